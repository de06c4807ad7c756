package dev.patchbay.inference;

import java.util.List;

/**
 * A strength sweep as asked for: a base model, patches each with a list of weights, and a
 * dataset's splits; every combination of the weights is composed in memory and evaluated
 * on every split. The model, the patches and the dataset are references (an id,
 * {@code name}, {@code name@version} or {@code name@alias}); a stored sweep holds the ids
 * they resolved to, so that it reads back as what ran.
 *
 * @param baseModelId the model the patches apply to, by reference; it needs a TorchScript
 * graph
 * @param terms the patches, each with the weights to try, in order
 * @param method how the terms combine: sum (default), magnitude_prune, ties, dare_linear
 * or dare_ties (the PEFT dialect of compositions)
 * @param density fraction kept by the pruning methods, in (0, 1]
 * @param majoritySign for ties and dare_ties: total (default) or frequency
 * @param seed for the dare methods: keys the random drop mask (default 0)
 * @param datasetId the dataset, by reference as a model is
 * @param inputs dataset tensors fed to the graph, one per split; rows are examples
 * @param labels the dataset tensor of integer class labels, one per row of every split
 * @param objective what the best combination maximizes; the mean accuracy by default
 * @param batchSize rows per forward pass
 */
public record SweepDraft(String baseModelId, List<Term> terms, String method, Double density, String majoritySign,
		Long seed, String datasetId, List<String> inputs, String labels, Objective objective, Integer batchSize) {

	/**
	 * One patch and the weights to try it at.
	 *
	 * @param patchId the patch
	 * @param weights its weights, each scaling the patch's effective delta
	 */
	public record Term(String patchId, List<Double> weights) {
	}

	/**
	 * What the best combination maximizes.
	 *
	 * @param maximize {@code mean} (the mean accuracy over the splits), {@code min} (the
	 * worst split's accuracy) or the name of one split's input tensor
	 */
	public record Objective(String maximize) {
	}

}
