package dev.patchbay.inference;

import java.util.UUID;

/**
 * An evaluation: its progress while it runs, then its accuracy.
 *
 * @param id the evaluation id
 * @param status running, done or failed
 * @param examplesDone rows evaluated so far
 * @param examplesTotal rows in all
 * @param accuracy fraction of rows whose arg-max output equals the label, once done
 * @param count rows evaluated, once done
 * @param durationMs wall time, once done
 * @param error the problem, if it failed, as stored problem JSON
 */
public record EvaluationSummary(UUID id, String status, long examplesDone, long examplesTotal, Double accuracy,
		Long count, Long durationMs, String error) {
}
