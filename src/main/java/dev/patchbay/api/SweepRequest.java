package dev.patchbay.api;

import java.util.List;

import dev.patchbay.inference.SweepDraft;

/**
 * A strength sweep: a base model, patches each with a list of weights, and a dataset's
 * splits; every combination of the weights is composed in memory and evaluated on every
 * split.
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
record SweepRequest(String baseModelId, List<Term> terms, String method, Double density, String majoritySign, Long seed,
		String datasetId, List<String> inputs, String labels, Objective objective, Integer batchSize) {

	// Terms stay as given, a null list or term included: the module names what is
	// missing.
	SweepDraft draft() {
		return new SweepDraft(this.baseModelId,
				(this.terms != null) ? this.terms.stream().map((term) -> (term != null) ? term.draft() : null).toList()
						: null,
				this.method, this.density, this.majoritySign, this.seed, this.datasetId, this.inputs, this.labels,
				(this.objective != null) ? new SweepDraft.Objective(this.objective.maximize()) : null, this.batchSize);
	}

	static SweepRequest of(SweepDraft draft) {
		return new SweepRequest(draft.baseModelId(),
				draft.terms().stream().map((term) -> new Term(term.patchId(), term.weights())).toList(), draft.method(),
				draft.density(), draft.majoritySign(), draft.seed(), draft.datasetId(), draft.inputs(), draft.labels(),
				(draft.objective() != null) ? new Objective(draft.objective().maximize()) : null, draft.batchSize());
	}

	/**
	 * One patch and the weights to try it at.
	 *
	 * @param patchId the patch
	 * @param weights its weights, each scaling the patch's effective delta
	 */
	record Term(String patchId, List<Double> weights) {

		SweepDraft.Term draft() {
			return new SweepDraft.Term(this.patchId, this.weights);
		}

	}

	/**
	 * What the best combination maximizes.
	 *
	 * @param maximize {@code mean} (the mean accuracy over the splits), {@code min} (the
	 * worst split's accuracy) or the name of one split's input tensor
	 */
	record Objective(String maximize) {
	}

}
