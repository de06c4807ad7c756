package dev.patchbay.api;

import java.util.UUID;

import tools.jackson.databind.JsonNode;

import dev.patchbay.inference.EvaluationSummary;

/**
 * An evaluation as the API shows it: its progress while it runs, then its accuracy.
 *
 * @param id the evaluation id
 * @param status running, done or failed
 * @param examplesDone rows evaluated so far
 * @param examplesTotal rows in all
 * @param accuracy fraction of rows whose arg-max output equals the label, once done
 * @param count rows evaluated, once done
 * @param durationMs wall time, once done
 * @param error the problem, if it failed
 */
record EvaluationView(UUID id, String status, long examplesDone, long examplesTotal, Double accuracy, Long count,
		Long durationMs, JsonNode error) {

	static EvaluationView of(EvaluationSummary evaluation) {
		return new EvaluationView(evaluation.id(), evaluation.status(), evaluation.examplesDone(),
				evaluation.examplesTotal(), evaluation.accuracy(), evaluation.count(), evaluation.durationMs(),
				Responses.storedJson(evaluation.error()));
	}

}
