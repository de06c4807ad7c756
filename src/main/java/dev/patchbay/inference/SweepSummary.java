package dev.patchbay.inference;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A strength sweep: its request, progress, the results of the grid points evaluated so
 * far, and the best of them for its objective.
 *
 * @param id the sweep id
 * @param status queued, running, done or failed
 * @param progress grid points evaluated and in all
 * @param request the sweep as requested, the objective filled in
 * @param results one per evaluated grid point, in grid order; null in listings
 * @param best the result that scores highest for the objective, the first one on a tie;
 * null in listings and before any result
 * @param durationMs wall time, once done
 * @param error the problem, if it failed, as stored problem JSON
 * @param createdAt when it was requested
 */
public record SweepSummary(UUID id, String status, Progress progress, SweepDraft request, List<Result> results,
		Best best, Long durationMs, String error, Instant createdAt) {

	/**
	 * @param pointsDone grid points evaluated so far
	 * @param pointsTotal grid points in all
	 */
	public record Progress(int pointsDone, int pointsTotal) {
	}

	/**
	 * One grid point.
	 *
	 * @param weights one weight per term
	 * @param accuracy per split (its input tensor's name), the fraction of rows whose
	 * arg-max output equals the label
	 */
	public record Result(List<Double> weights, Map<String, Double> accuracy) {
	}

	/**
	 * The best grid point.
	 *
	 * @param weights one weight per term
	 * @param accuracy per split
	 * @param score the objective's value
	 */
	public record Best(List<Double> weights, Map<String, Double> accuracy, double score) {
	}

}
