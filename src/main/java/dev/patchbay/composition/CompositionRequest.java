package dev.patchbay.composition;

import java.util.List;
import java.util.Map;

import tools.jackson.databind.JsonNode;

/**
 * A composition recipe as the client sends it; {@code Recipe.from} checks and normalizes
 * it.
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
public record CompositionRequest(String baseModelId, List<Term> terms, String method, Double density,
		String majoritySign, Long seed, String outputDtype, Boolean materialize, String dialect,
		Map<String, JsonNode> parameters, Boolean safeMerge, String resultName, Boolean acknowledgeAudit,
		List<Slice> slices, String computeDtype) {

	public CompositionRequest(String baseModelId, List<Term> terms, String method, Double density, String majoritySign,
			Long seed, String outputDtype, Boolean materialize, String dialect, Map<String, JsonNode> parameters,
			Boolean safeMerge) {
		this(baseModelId, terms, method, density, majoritySign, seed, outputDtype, materialize, dialect, parameters,
				safeMerge, null, null, null, null);
	}

	/**
	 * One patch, or one whole model, of the recipe.
	 *
	 * @param patchId the patch: an id or a reference
	 * @param weight scales the patch's effective delta; defaults to 1
	 * @param modelId instead of a patch, a model (an id or a reference): its task vector
	 * is model − base
	 * @param parameters this term's parameters (density, epsilon, …)
	 */
	public record Term(String patchId, Double weight, String modelId, Map<String, JsonNode> parameters) {
	}

	/**
	 * One output slice: the same number of layers from each source, merged.
	 *
	 * @param sources the models and their layer ranges
	 * @param parameters the method's parameters for this slice
	 */
	public record Slice(List<Source> sources, Map<String, JsonNode> parameters) {
	}

	/**
	 * One source of a slice.
	 *
	 * @param modelId the model: an id or a reference ({@code name}, {@code name@version},
	 * {@code name@alias})
	 * @param layerRange [from, to): the layers taken, to exclusive
	 * @param parameters this source's parameters (weight, density, …)
	 */
	public record Source(String modelId, List<Integer> layerRange, Map<String, JsonNode> parameters) {
	}

}
