package dev.patchbay.inference;

import java.util.UUID;

/**
 * An accuracy evaluation, as asked for, of a model or composition on a registered
 * dataset.
 *
 * @param modelId the model to evaluate (or compositionId)
 * @param compositionId the composition to evaluate (or modelId)
 * @param datasetId the dataset
 * @param inputs the dataset tensor fed to the graph, rows are examples
 * @param labels the dataset tensor of integer class labels, one per row
 * @param batchSize rows per forward pass
 * @param async return at once with an id to poll, instead of waiting for the result
 */
public record EvaluationDraft(String modelId, UUID compositionId, UUID datasetId, String inputs, String labels,
		Integer batchSize, Boolean async) {
}
