package dev.patchbay.api;

import java.util.UUID;

import dev.patchbay.inference.EvaluationDraft;

/**
 * An accuracy evaluation of a model or composition on a registered dataset.
 *
 * @param modelId the model to evaluate, by reference (an id, name, name@version or
 * name@alias); or compositionId
 * @param compositionId the composition to evaluate (or modelId)
 * @param datasetId the dataset, by reference as a model is
 * @param inputs the dataset tensor fed to the graph, rows are examples
 * @param labels the dataset tensor of integer class labels, one per row
 * @param batchSize rows per forward pass
 * @param async return at once with an id to poll, instead of waiting for the result
 */
record EvaluationRequest(String modelId, UUID compositionId, String datasetId, String inputs, String labels,
		Integer batchSize, Boolean async) {

	EvaluationDraft draft() {
		return new EvaluationDraft(this.modelId, this.compositionId, this.datasetId, this.inputs, this.labels,
				this.batchSize, this.async);
	}

}
