package dev.patchbay.api;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import tools.jackson.databind.JsonNode;

import dev.patchbay.inference.SweepSummary;

/**
 * A strength sweep as the API shows it: its request, progress, the results of the grid
 * points evaluated so far, and the best of them for its objective.
 *
 * @param id the sweep id
 * @param status queued, running, done or failed
 * @param progress grid points evaluated and in all
 * @param request the sweep as requested, the objective filled in
 * @param results one per evaluated grid point, in grid order; null in listings
 * @param best the result that scores highest for the objective, the first one on a tie;
 * null in listings and before any result
 * @param durationMs wall time, once done
 * @param error the problem, if it failed
 * @param createdAt when it was requested
 */
record SweepView(UUID id, String status, Progress progress, SweepRequest request, List<Result> results, Best best,
		Long durationMs, JsonNode error, Instant createdAt) {

	static SweepView of(SweepSummary sweep) {
		SweepSummary.Best best = sweep.best();
		return new SweepView(sweep.id(), sweep.status(),
				new Progress(sweep.progress().pointsDone(), sweep.progress().pointsTotal()),
				SweepRequest.of(sweep.request()),
				(sweep.results() != null) ? sweep.results()
					.stream()
					.map((result) -> new Result(result.weights(), result.accuracy()))
					.toList() : null,
				(best != null) ? new Best(best.weights(), best.accuracy(), best.score()) : null, sweep.durationMs(),
				Responses.storedJson(sweep.error()), sweep.createdAt());
	}

	/**
	 * @param pointsDone grid points evaluated so far
	 * @param pointsTotal grid points in all
	 */
	record Progress(int pointsDone, int pointsTotal) {
	}

	/**
	 * One grid point.
	 *
	 * @param weights one weight per term
	 * @param accuracy per split (its input tensor's name), the fraction of rows whose
	 * arg-max output equals the label
	 */
	record Result(List<Double> weights, Map<String, Double> accuracy) {
	}

	/**
	 * The best grid point.
	 *
	 * @param weights one weight per term
	 * @param accuracy per split
	 * @param score the objective's value
	 */
	record Best(List<Double> weights, Map<String, Double> accuracy, double score) {
	}

}
