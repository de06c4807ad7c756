package dev.patchbay.api;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

import tools.jackson.databind.JsonNode;

import dev.patchbay.composition.RecipeDraft;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * The body of {@code POST /api/v1/compositions}: one flat object for both dialects, as
 * the contract has it. {@link #draft()} splits it by {@code dialect} and refuses the
 * fields the other dialect reads; everything else is checked by the composition module,
 * which names the field at fault.
 *
 * @param baseModelId the model to patch: an id or a reference ({@code name},
 * {@code name@version}, {@code name@alias})
 * @param terms the patches with their weights, in order
 * @param method sum (default), magnitude_prune, ties, dare_linear or dare_ties
 * @param density fraction kept by the pruning methods, in (0, 1]
 * @param majoritySign for ties and dare_ties: total (default) or frequency
 * @param seed for the dare methods: keys the random drop mask (default 0)
 * @param outputDtype dtype of floating-point output tensors; defaults to each base
 * tensor's dtype
 * @param materialize whether to register the result as a model
 * @param safeMerge whether a result holding NaN or an infinity is refused (default true,
 * as PEFT's {@code safe_merge}); false stores it as computed
 * @param dialect what the method names mean: {@code peft} (default) or {@code mergekit}
 * @param parameters the method's parameters, each a number, boolean, gradient or list of
 * {@code {filter, value}}
 * @param resultName the name the result is registered under, with the next version number
 * of that name; implies {@code materialize}
 * @param acknowledgeAudit composes patches their audit flags (admin keys only); the
 * acknowledgement is recorded in the composition
 * @param slices instead of terms, mergekit's {@code slices}: layer ranges of several
 * models, each slice's sources merged with the method, renumbered in order
 * @param computeDtype mergekit's {@code dtype}: the inputs are rounded to it before the
 * method runs (F32 default, F16, BF16); also the output dtype unless outputDtype is set
 */
record CompositionRequest(String baseModelId, List<Term> terms, String method, Double density, String majoritySign,
		Long seed, String outputDtype, Boolean materialize, String dialect, Map<String, JsonNode> parameters,
		Boolean safeMerge, String resultName, Boolean acknowledgeAudit, List<Slice> slices, String computeDtype) {

	/**
	 * One patch, or one whole model, of the recipe.
	 *
	 * @param patchId the patch: an id or a reference
	 * @param weight scales the patch's effective delta; defaults to 1
	 * @param modelId instead of a patch, a model (an id or a reference): its task vector
	 * is model − base
	 * @param parameters this term's parameters (density, epsilon, …)
	 */
	record Term(String patchId, Double weight, String modelId, Map<String, JsonNode> parameters) {

		RecipeDraft.Term draft() {
			return new RecipeDraft.Term(this.patchId, this.weight, this.modelId, this.parameters);
		}

	}

	/**
	 * One output slice: the same number of layers from each source, merged.
	 *
	 * @param sources the models and their layer ranges
	 * @param parameters the method's parameters for this slice
	 */
	record Slice(List<Source> sources, Map<String, JsonNode> parameters) {

		RecipeDraft.Slice draft() {
			return new RecipeDraft.Slice(drafts(this.sources, Source::draft), this.parameters);
		}

	}

	/**
	 * One source of a slice.
	 *
	 * @param modelId the model: an id or a reference ({@code name}, {@code name@version},
	 * {@code name@alias})
	 * @param layerRange [from, to): the layers taken, to exclusive
	 * @param parameters this source's parameters (weight, density, …)
	 */
	record Source(String modelId, List<Integer> layerRange, Map<String, JsonNode> parameters) {

		RecipeDraft.Source draft() {
			return new RecipeDraft.Source(this.modelId, this.layerRange, this.parameters);
		}

	}

	/**
	 * The recipe in its dialect.
	 * @throws InvalidInputException for an unknown dialect, or a field only the other
	 * dialect reads
	 */
	RecipeDraft draft() {
		RecipeDraft.Output output = new RecipeDraft.Output(this.outputDtype, this.materialize, this.safeMerge,
				this.resultName);
		List<RecipeDraft.Term> terms = drafts(this.terms, Term::draft);
		if ("mergekit".equals(this.dialect)) {
			if (this.density != null || this.majoritySign != null) {
				throw invalid((this.density != null) ? "density" : "majoritySign",
						"is a PEFT-dialect shorthand; in the mergekit dialect set parameters (density per term)");
			}
			return new RecipeDraft.Mergekit(this.baseModelId, terms, this.method, this.seed, this.parameters,
					drafts(this.slices, Slice::draft), this.computeDtype, output);
		}
		if (this.dialect != null && !this.dialect.equals("peft")) {
			throw invalid("dialect", "must be peft or mergekit");
		}
		if (this.parameters != null && !this.parameters.isEmpty()) {
			throw invalid("parameters", "are read by the mergekit dialect only; set \"dialect\": \"mergekit\"");
		}
		if (this.slices != null && !this.slices.isEmpty()) {
			throw invalid("slices", "are read by the mergekit dialect only; set \"dialect\": \"mergekit\"");
		}
		if (this.computeDtype != null) {
			throw invalid("computeDtype", "is read by the mergekit dialect only; set \"dialect\": \"mergekit\"");
		}
		return new RecipeDraft.Peft(this.baseModelId, terms, this.method, this.density, this.majoritySign, this.seed,
				output);
	}

	/** Maps a list that may be absent or hold nulls, which the module names. */
	private static <T, D> List<D> drafts(List<T> items, Function<T, D> draft) {
		return (items != null) ? items.stream().map((item) -> (item != null) ? draft.apply(item) : null).toList()
				: null;
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_RECIPE, field + ": " + reason, Map.of("field", field));
	}

}
