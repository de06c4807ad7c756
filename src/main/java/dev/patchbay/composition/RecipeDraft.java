package dev.patchbay.composition;

import java.util.List;
import java.util.Map;

import tools.jackson.databind.JsonNode;

/**
 * A recipe as a caller asks for it, before {@code Recipe.from} checks it: references not
 * yet resolved, options not yet defaulted, so that every problem is reported against the
 * field the caller wrote. The API's JSON body, a mergekit YAML config and a sweep's grid
 * point each become one.
 * <p>
 * It comes in two dialects because they are two languages for the same computation:
 * PEFT's merge utilities weight patches and take a pruning density and a majority sign,
 * while mergekit's methods read named parameters for the recipe, each term and each
 * slice. Parameter values stay JSON trees here because YAML and JSON both produce them
 * and {@link ParameterValue} reads both the same way.
 */
public sealed interface RecipeDraft permits RecipeDraft.Peft, RecipeDraft.Mergekit {

	/**
	 * The model to patch: an id or a reference; null only where the method needs none.
	 */
	String baseModelId();

	/** The patches or models, in order; for a mergekit slices recipe, none. */
	List<Term> terms();

	/** What becomes of the result. */
	Output output();

	/**
	 * A recipe in PEFT's terms.
	 *
	 * @param method sum (default), magnitude_prune, ties, dare_linear or dare_ties
	 * @param density fraction kept by the pruning methods
	 * @param majoritySign for ties and dare_ties: total (default) or frequency
	 * @param seed for the dare methods: keys the drop mask (default 0)
	 */
	record Peft(String baseModelId, List<Term> terms, String method, Double density, String majoritySign, Long seed,
			Output output) implements RecipeDraft {
	}

	/**
	 * A recipe in mergekit's terms.
	 *
	 * @param method one of {@link MergekitMethods#NAMES}
	 * @param seed keys the random masks of the dare methods (default 0)
	 * @param parameters the method's parameters for the whole recipe
	 * @param slices instead of terms, layer ranges of several models merged slice by
	 * slice
	 * @param computeDtype the dtype inputs are rounded to before the method runs
	 */
	record Mergekit(String baseModelId, List<Term> terms, String method, Long seed, Map<String, JsonNode> parameters,
			List<Slice> slices, String computeDtype, Output output) implements RecipeDraft {
	}

	/**
	 * One patch, or one whole model (its task vector is model − base); a PEFT term takes
	 * no parameters.
	 */
	record Term(String patchId, Double weight, String modelId, Map<String, JsonNode> parameters) {
	}

	/** One output slice: the same number of layers from each source, merged. */
	record Slice(List<Source> sources, Map<String, JsonNode> parameters) {
	}

	/** One source of a slice and its layers [from, to). */
	record Source(String modelId, List<Integer> layerRange, Map<String, JsonNode> parameters) {
	}

	/**
	 * What becomes of the result.
	 *
	 * @param dtype of floating-point output tensors; null for each base tensor's own
	 * @param materialize whether to register the result as a model
	 * @param safeMerge whether a result holding NaN or an infinity is refused (default
	 * true)
	 * @param resultName the name the result is registered under; implies materialize
	 */
	record Output(String dtype, Boolean materialize, Boolean safeMerge, String resultName) {

		/**
		 * Nothing asked: each base tensor's dtype, not registered, refused if not finite.
		 */
		public static final Output DEFAULT = new Output(null, null, null, null);

	}

}
