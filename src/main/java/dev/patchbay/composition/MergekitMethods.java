package dev.patchbay.composition;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import dev.patchbay.shared.TensorSpec;

/**
 * mergekit's merge methods as the planner sees them: which inputs each takes, its
 * parameters with mergekit's defaults, and the per-tensor checks made before any compute
 * (METHODS.md §1). Parameters resolve as mergekit's {@code ConfigReader} does: a term's
 * own value, else the method-level value, else the default.
 */
final class MergekitMethods {

	private MergekitMethods() {
	}

	/** Whether a method reads a base model. */
	enum Base {

		REQUIRED, OPTIONAL, NONE

	}

	/** How the GTA family sparsifies each task vector before combining. */
	enum Sparsifier {

		NONE, MAGNITUDE, RANDOM, OUTLIERS, DELLA

	}

	/**
	 * One method.
	 *
	 * @param name mergekit's name
	 * @param base whether it takes a base model
	 * @param minTerms fewest terms
	 * @param maxTerms most terms
	 * @param global method-level parameters with their defaults (null: required)
	 * @param perTerm per-term parameters with their defaults (null: required); these may
	 * also be given at method level
	 * @param sparsifier for the GTA family, its sparsifier; else null
	 * @param consensus for the GTA family, whether it elects signs
	 */
	record Spec(String name, Base base, int minTerms, int maxTerms, Map<String, Double> global,
			Map<String, Double> perTerm, Sparsifier sparsifier, boolean consensus) {

		boolean gta() {
			return this.sparsifier != null;
		}

	}

	// No upper bound on the number of terms.
	private static final int MANY = Integer.MAX_VALUE;

	// Defaults are mergekit's registry.py values; a 1.0 / 0.0 default of a boolean
	// parameter is true / false, since every value is read as a number.
	static final Map<String, Spec> SPECS;

	static {
		Map<String, Spec> specs = new LinkedHashMap<>();
		specs.put("linear",
				new Spec("linear", Base.NONE, 1, MANY, map("normalize", 1.0), map("weight", null), null, false));
		// The GTA family differs only in its sparsifier, its consensus and the defaults
		// of normalize and rescale (METHODS.md §1.6's table).
		gta(specs, "task_arithmetic", Sparsifier.NONE, false, 0, 0, null, null);
		gta(specs, "ties", Sparsifier.MAGNITUDE, true, 1, 0, null, null);
		gta(specs, "dare_linear", Sparsifier.RANDOM, false, 0, 1, null, null);
		gta(specs, "dare_ties", Sparsifier.RANDOM, true, 0, 1, null, null);
		gta(specs, "breadcrumbs", Sparsifier.OUTLIERS, false, 0, 0, "gamma", 0.01);
		gta(specs, "breadcrumbs_ties", Sparsifier.OUTLIERS, true, 0, 0, "gamma", 0.01);
		gta(specs, "della", Sparsifier.DELLA, true, 1, 1, "epsilon", 0.15);
		gta(specs, "della_linear", Sparsifier.DELLA, false, 0, 1, "epsilon", 0.15);
		// sce weighs the models by their task vectors' mean square: no per-model weight.
		specs.put("sce",
				new Spec("sce", Base.REQUIRED, 1, MANY, map("select_topk", 1.0, "int8_mask", 0.0), map(), null, false));
		specs.put("arcee_fusion", new Spec("arcee_fusion", Base.REQUIRED, 1, 1, map(), map(), null, false));
		specs.put("slerp", new Spec("slerp", Base.REQUIRED, 1, 1, map("t", null), map(), null, false));
		specs.put("nuslerp", new Spec("nuslerp", Base.OPTIONAL, 2, 2,
				map("nuslerp_flatten", 1.0, "nuslerp_row_wise", 0.0), map("weight", null), null, false));
		specs.put("multislerp", new Spec("multislerp", Base.OPTIONAL, 1, MANY,
				map("normalize_weights", 1.0, "eps", 1e-8), map("weight", null), null, false));
		// karcher and model_stock accept a weight, as mergekit's schema does, but ignore
		// it: every input counts the same.
		specs.put("karcher", new Spec("karcher", Base.OPTIONAL, 1, MANY, map("max_iter", 10.0, "tol", 1e-5),
				map("weight", 1.0), null, false));
		specs.put("model_stock", new Spec("model_stock", Base.REQUIRED, 2, MANY, map("filter_wise", 0.0),
				map("weight", 1.0), null, false));
		specs.put("nearswap", new Spec("nearswap", Base.REQUIRED, 1, 1, map("t", null), map(), null, false));
		specs.put("ram", new Spec("ram", Base.REQUIRED, 1, MANY, map("epsilon", 1e-5), map(), null, false));
		// passthrough takes one model (one source per slice of a frankenmerge),
		// optionally scaled.
		specs.put("passthrough", new Spec("passthrough", Base.NONE, 1, 1, map(), map("scale", 1.0), null, false));
		// OTA (ota-merge's ota.py, METHODS.md §4); NaN marks a parameter left unset
		// (Python's None). ffg_density is ours: the threshold of a whole-model density.
		specs.put("ota",
				new Spec("ota", Base.OPTIONAL, 1, MANY,
						map("epsilon", 1e-8, "normalise", 0.0, "power", 0.5, "fallback_to_base", 0.0, "rescale", 0.0,
								"approximate_norm", 0.0, "rescale_relative_threshold", 1e-6,
								"masked_task_vector_merge_method", 0.0, "ties_density", Double.NaN),
						map("precond_threshold", Double.NaN, "scaling_factor", 1.0, "rank", Double.NaN, "rank1_approx",
								0.0, "ffg_density", Double.NaN),
						null, false));
		// Fast Fisher Grafting on its own: θ = b + m ⊙ τ, m keeping the density most
		// salient elements of the whole model.
		specs.put("ffg", new Spec("ffg", Base.REQUIRED, 1, 1, map("density", null, "metric", 0.0), map(), null, false));
		SPECS = java.util.Collections.unmodifiableMap(specs);
	}

	/**
	 * Parameters that name a choice: the value read is the index of the name given (a
	 * default is an index too).
	 */
	static final Map<String, List<String>> CHOICES = Map.of("normalise", List.of("none", "global"),
			"masked_task_vector_merge_method", List.of("precond", "linear", "ties"), "metric",
			List.of("fisher", "magnitude"));

	/** The supported methods' names, for messages. */
	static final String NAMES = String.join(", ", SPECS.keySet());

	/**
	 * Registers a GTA method.
	 * @param normalize the default of {@code normalize} (1 true, 0 false)
	 * @param rescale the default of {@code rescale}
	 * @param extra a per-term parameter of the sparsifier ({@code gamma},
	 * {@code epsilon}), or null
	 */
	private static void gta(Map<String, Spec> specs, String name, Sparsifier sparsifier, boolean consensus,
			double normalize, double rescale, String extra, Double extraDefault) {
		Map<String, Double> perTerm = map("weight", null, "density", 1.0);
		if (extra != null) {
			perTerm.put(extra, extraDefault);
		}
		specs.put(name,
				new Spec(name, Base.REQUIRED, 1, MANY,
						map("normalize", normalize, "rescale", rescale, "lambda", 1.0, "int8_mask", 0.0), perTerm,
						sparsifier, consensus));
	}

	private static Map<String, Double> map(Object... pairs) {
		Map<String, Double> map = new LinkedHashMap<>();
		for (int i = 0; i < pairs.length; i += 2) {
			map.put((String) pairs[i], (Double) pairs[i + 1]);
		}
		return map;
	}

	/**
	 * One tensor's parameters, every default filled in.
	 *
	 * @param global method-level values
	 * @param terms per term, its values
	 */
	record Tuning(Map<String, Double> global, List<Map<String, Double>> terms) {

		double global(String name) {
			return this.global.get(name);
		}

		boolean flag(String name) {
			return this.global.get(name) != 0;
		}

		double term(int term, String name) {
			return this.terms.get(term).get(name);
		}

	}

	// The first numbered block in a name is its layer: llama's model.layers.N., GPT-2's
	// transformer.h.N., ViT's blocks.N. and BERT's layer.N.
	private static final Pattern LAYER = Pattern.compile("(?:^|\\.)(?:layers|h|blocks|layer)\\.(\\d+)\\.");

	/** The layer index a tensor name carries, or -1 for a pre- or post-layer tensor. */
	static int layerOf(String tensor) {
		Matcher matcher = LAYER.matcher(tensor);
		return matcher.find() ? Integer.parseInt(matcher.group(1)) : -1;
	}

	/** A layer tensor's name with its layer index replaced, for renumbered slices. */
	static String renumbered(String tensor, int layer) {
		Matcher matcher = LAYER.matcher(tensor);
		if (!matcher.find()) {
			return tensor;
		}
		return tensor.substring(0, matcher.start(1)) + layer + tensor.substring(matcher.end(1));
	}

	/**
	 * Whether a tensor outside the layers comes before them (embeddings, taken from the
	 * first slice) rather than after (norms, the output head, taken from the last one).
	 */
	static boolean beforeLayers(String tensor) {
		// GPT-NeoX calls its output head embed_out, so "embed" alone is not enough.
		return tensor.contains("embed") && !tensor.contains("embed_out") && !tensor.contains("lm_head");
	}

	/** The method's spec, or null with a problem naming the methods there are. */
	private static Spec knownSpec(String name, List<String> problems) {
		Spec spec = SPECS.get(name);
		if (spec == null) {
			problems.add("method: '" + name + "' is unknown; the mergekit dialect supports " + NAMES);
		}
		return spec;
	}

	/**
	 * The recipe-level problems of a slices recipe (method, base, sources, ranges,
	 * parameter names), before any model is looked at.
	 */
	static List<String> checkSlices(Recipe recipe) {
		List<String> problems = new ArrayList<>();
		String name = recipe.method().wireName();
		Spec spec = knownSpec(name, problems);
		if (spec == null) {
			return problems;
		}
		if (name.equals("ota") || name.equals("ffg")) {
			// Their curvature comes from each term's uploaded second moments, which a
			// slice's layer ranges do not map.
			problems.add("method: " + name + " takes terms with second moments, not slices");
			return problems;
		}
		java.util.UUID base = recipe.baseModelId();
		if (spec.base() == Base.REQUIRED && base == null) {
			problems.add("baseModelId: is required by " + name);
		}
		// For linear and passthrough a base would only be one more source: in a slices
		// recipe it must be listed as one, so the weights are explicit.
		if (spec.base() == Base.NONE && base != null) {
			problems.add("baseModelId: " + name + " takes no base model; list it as a source instead");
		}
		Set<String> known = new LinkedHashSet<>(spec.global().keySet());
		known.addAll(spec.perTerm().keySet());
		unknownParameters(recipe.parameters(), "parameters.", name, known, problems);
		for (int i = 0; i < recipe.slices().size(); i++) {
			Recipe.Slice slice = recipe.slices().get(i);
			String field = "slices[" + i + "]";
			if (slice.sources().isEmpty()) {
				problems.add(field + ".sources: must list at least one source");
				continue;
			}
			unknownParameters(slice.parameters(), field + ".parameters.", name, known, problems);
			Set<java.util.UUID> models = new java.util.HashSet<>();
			Set<Integer> lengths = new java.util.TreeSet<>();
			boolean hasBase = false;
			int terms = 0;
			for (int j = 0; j < slice.sources().size(); j++) {
				Recipe.Source source = slice.sources().get(j);
				String at = field + ".sources[" + j + "]";
				if (source.from() < 0 || source.to() <= source.from()) {
					problems.add(at + ".layerRange: [" + source.from() + ", " + source.to()
							+ "] must satisfy 0 ≤ from < to (to is exclusive)");
				}
				lengths.add(source.to() - source.from());
				if (!models.add(source.modelId())) {
					problems.add(at + ".modelId: model " + source.modelId() + " is already a source of this slice;"
							+ " mergekit keys a slice's inputs by model, so it cannot take one twice");
				}
				if (spec.base() != Base.NONE && source.modelId().equals(base)) {
					hasBase = true;
					if (!source.parameters().isEmpty()) {
						problems.add(at + ".parameters: are the base model's; it takes none here");
					}
					continue;
				}
				terms++;
				for (String parameter : source.parameters().keySet()) {
					if (!spec.perTerm().containsKey(parameter)) {
						problems.add(at + ".parameters." + parameter + ": not a per-model parameter of " + name);
					}
				}
			}
			// Layer k of the slice is layer from + k of every source, so the ranges must
			// line up.
			if (lengths.size() > 1) {
				problems.add(field + ".sources: every source must span the same number of layers, not " + lengths);
			}
			if (base != null && spec.base() != Base.NONE && !hasBase) {
				problems.add(field + ".sources: must include the base model " + base + "; mergekit merges each slice"
						+ " against the base among its sources");
			}
			if (terms < spec.minTerms() || terms > spec.maxTerms()) {
				String wanted = (spec.minTerms() == spec.maxTerms()) ? "exactly " + spec.minTerms()
						: "at least " + spec.minTerms();
				problems.add(
						field + ".sources: " + name + " takes " + wanted + " source(s) besides the base, not " + terms);
			}
		}
		return problems;
	}

	private static void unknownParameters(Map<String, ParameterValue> parameters, String field, String method,
			Set<String> known, List<String> problems) {
		for (String parameter : parameters.keySet()) {
			if (!known.contains(parameter)) {
				problems.add(field + parameter + ": not a parameter of " + method + " (it takes "
						+ String.join(", ", known) + ")");
			}
		}
	}

	/**
	 * A tensor's position for gradients, as mergekit's planner gives it: layer i of n at
	 * i / (n − 1) (1 when n = 1), non-layer tensors at 0.
	 */
	static double position(String tensor, int layers) {
		int layer = layerOf(tensor);
		if (layer < 0) {
			return 0;
		}
		return (layers <= 1) ? 1 : (double) layer / (layers - 1);
	}

	/**
	 * The recipe-level problems (method, base, term counts, parameter names), before any
	 * tensor is looked at.
	 */
	static List<String> checkRecipe(Recipe recipe) {
		List<String> problems = new ArrayList<>();
		String name = recipe.method().wireName();
		Spec spec = knownSpec(name, problems);
		if (spec == null) {
			return problems;
		}
		int terms = recipe.terms().size();
		if (spec.base() == Base.REQUIRED && recipe.baseModelId() == null) {
			problems.add("baseModelId: is required by " + name);
		}
		// mergekit would append the base as an extra source without parameters, which
		// crashes linear (no weight) and silently averages the base into karcher; an
		// explicit term says what is meant.
		if (spec.base() == Base.NONE && recipe.baseModelId() != null) {
			problems.add("baseModelId: " + name + " takes no base model (mergekit would add it as a source"
					+ " without parameters); list it as a term instead");
		}
		if (terms < spec.minTerms() || terms > spec.maxTerms()) {
			String wanted = (spec.minTerms() == spec.maxTerms()) ? "exactly " + spec.minTerms()
					: "at least " + spec.minTerms();
			problems.add("terms: " + name + " takes " + wanted + " term(s) besides the base, not " + terms);
		}
		Set<String> known = new LinkedHashSet<>(spec.global().keySet());
		known.addAll(spec.perTerm().keySet());
		for (String parameter : recipe.parameters().keySet()) {
			if (!known.contains(parameter)) {
				problems.add("parameters." + parameter + ": not a parameter of " + name + " (it takes "
						+ String.join(", ", known) + ")");
			}
		}
		for (int i = 0; i < terms; i++) {
			Recipe.Term term = recipe.terms().get(i);
			for (String parameter : term.parameters().keySet()) {
				if (parameter.equals("preconditioner_path") && (name.equals("ota") || name.equals("ffg"))) {
					problems.add("terms[" + i + "].parameters.preconditioner_path: is not read; " + name
							+ " uses the second_moments uploaded with the term's model or diff patch");
					continue;
				}
				if (!spec.perTerm().containsKey(parameter)) {
					problems.add("terms[" + i + "].parameters." + parameter + ": not a per-term parameter of " + name
							+ (spec.perTerm().isEmpty() ? ""
									: " (it takes " + String.join(", ", spec.perTerm().keySet()) + ")"));
				}
			}
			if (term.modelId() != null && term.modelId().equals(recipe.baseModelId())) {
				problems.add("terms[" + i + "].modelId: is the base model itself; mergekit's " + name
						+ " needs it as base_model only");
			}
			// A patch holds a delta only; without a base there is nothing for it to be
			// the delta of.
			if (term.patchId() != null && recipe.baseModelId() == null) {
				problems.add("terms[" + i + "].patchId: a patch needs a base model to apply to");
			}
		}
		return problems;
	}

	/**
	 * Resolves one tensor's parameters and checks their ranges; problems name the
	 * parameter and the tensor.
	 * @param present per term, whether it changes this tensor
	 */
	static Tuning resolve(Recipe recipe, TensorSpec tensor, double t, boolean[] present, Set<String> problems) {
		int n = recipe.terms().size();
		List<Map<String, ParameterValue>> own = recipe.terms().stream().map(Recipe.Term::parameters).toList();
		List<String> fields = new ArrayList<>();
		for (int i = 0; i < n; i++) {
			fields.add("terms[" + i + "].parameters.");
		}
		return resolve(recipe, List.of(recipe.parameters()), own, java.util.Collections.nCopies(n, tensor.name()),
				fields, tensor, t, present, problems);
	}

	/**
	 * Resolves one tensor's parameters through mergekit's precedence chain: a term's own
	 * value, then each level in order (a slice's, then the recipe's), then the default.
	 * Method-level values are read with the output tensor's name, per-term ones with each
	 * term's input tensor name, as mergekit's planner does.
	 * @param levels the method-level parameter maps, highest precedence first
	 * @param own per term, its own parameters
	 * @param inputs per term, the name of its input tensor
	 * @param fields per term, the prefix naming its parameters in problems
	 */
	static Tuning resolve(Recipe recipe, List<Map<String, ParameterValue>> levels,
			List<Map<String, ParameterValue>> own, List<String> inputs, List<String> fields, TensorSpec tensor,
			double t, boolean[] present, Set<String> problems) {
		// Known here: checkRecipe or checkSlices has refused an unknown method already.
		Spec spec = SPECS.get(recipe.method().wireName());
		String name = tensor.name();
		Map<String, Double> global = new LinkedHashMap<>();
		spec.global().forEach((parameter, fallback) -> {
			Double value = read(levels, parameter, "parameters." + parameter, name, t, problems);
			value = (value != null) ? value : fallback;
			if (value == null) {
				problems.add("parameters." + parameter + ": is required by " + spec.name() + " (missing for tensor '"
						+ name + "')");
				value = Double.NaN;
			}
			global.put(parameter, value);
		});
		List<Map<String, Double>> terms = new ArrayList<>();
		for (int i = 0; i < own.size(); i++) {
			Map<String, Double> values = new LinkedHashMap<>();
			int index = i;
			spec.perTerm().forEach((parameter, fallback) -> {
				Double value = read(own.get(index).get(parameter), parameter, fields.get(index) + parameter,
						inputs.get(index), t, problems);
				value = (value != null) ? value
						: read(levels, parameter, "parameters." + parameter, inputs.get(index), t, problems);
				value = (value != null) ? value : fallback;
				if (value == null) {
					problems.add(fields.get(index) + parameter + ": is required by " + spec.name()
							+ " (missing for tensor '" + name + "')");
					value = Double.NaN;
				}
				values.put(parameter, value);
			});
			terms.add(values);
		}
		// A missing required value was recorded as a problem and stands as NaN, so the
		// range checks can still run and report everything else at once.
		Tuning tuning = new Tuning(global, terms);
		checkRanges(spec, tuning, tensor, present, fields, problems);
		return tuning;
	}

	/**
	 * A parameter's value for a tensor, or null if it is not set there: a number, or for
	 * a choice the index of the name given; a value of the wrong kind is a problem.
	 */
	private static Double read(ParameterValue value, String parameter, String field, String tensor, double t,
			Set<String> problems) {
		if (value == null) {
			return null;
		}
		List<String> choices = CHOICES.get(parameter);
		String text = value.text(tensor, t);
		if (choices != null) {
			if (text == null) {
				if (value.evaluate(tensor, t) == null) {
					return null;
				}
				problems.add(field + ": must be one of " + String.join(", ", choices));
				return Double.NaN;
			}
			int index = choices.indexOf(text);
			if (index < 0) {
				problems.add(field + ": '" + text + "' is not one of " + String.join(", ", choices) + " (tensor '"
						+ tensor + "')");
				return Double.NaN;
			}
			return (double) index;
		}
		// A number, a gradient interpolated at t, or the first filter entry whose filter
		// is a substring of the tensor's name, as mergekit's evaluate_setting.
		Double number = value.evaluate(tensor, t);
		if (number != null && number.isNaN()) {
			problems.add(field + ": must be a number, not '" + text + "'");
		}
		return number;
	}

	private static void checkOta(Tuning tuning, TensorSpec tensor, boolean[] present, Set<String> problems, String at) {
		if (!(tuning.global("epsilon") >= 0)) {
			problems.add("parameters.epsilon: must be at least 0" + at);
		}
		if (!(tuning.global("power") > 0)) {
			problems.add("parameters.power: must be above 0" + at);
		}
		if (tuning.flag("approximate_norm")) {
			// ota-merge's power iteration starts from a random vector: not reproducible.
			problems.add("parameters.approximate_norm: true is not supported (ota-merge's power iteration starts"
					+ " from a random vector); the exact norm is used without it" + at);
		}
		if (!(tuning.global("rescale_relative_threshold") >= 0)) {
			problems.add("parameters.rescale_relative_threshold: must be at least 0" + at);
		}
		boolean masked = false;
		for (int i = 0; i < tuning.terms().size(); i++) {
			String field = "terms[" + i + "].parameters.";
			double threshold = tuning.term(i, "precond_threshold");
			double density = tuning.term(i, "ffg_density");
			double rank = tuning.term(i, "rank");
			masked |= !Double.isNaN(threshold) || !Double.isNaN(density);
			if (!Double.isNaN(threshold) && !(threshold >= 0)) {
				problems.add(field + "precond_threshold: must be at least 0" + at);
			}
			if (!Double.isNaN(density) && !(density >= 0 && density <= 1)) {
				problems.add(field + "ffg_density: must be in [0, 1], not " + density + at);
			}
			if (!Double.isNaN(density) && !Double.isNaN(threshold)) {
				problems
					.add(field + "ffg_density: sets the threshold itself; give it or precond_threshold, not both" + at);
			}
			if (!Double.isNaN(rank) && !(rank >= 1 && rank == Math.rint(rank))) {
				problems.add(field + "rank: must be a whole number of at least 1" + at);
			}
			if (!(tuning.term(i, "scaling_factor") > 0)) {
				problems.add(field + "scaling_factor: must be above 0" + at);
			}
		}
		if (tuning.global("masked_task_vector_merge_method") == 2) {
			double density = tuning.global("ties_density");
			if (!(density > 0 && density <= 1) || (long) (density * tensor.elementCount()) == 0) {
				problems.add("parameters.ties_density: ties needs a density in (0, 1] keeping at least one element,"
						+ " not " + density + at);
			}
			if (masked) {
				// ota-merge defines no masked ties: its trim ignores the FFG mask.
				problems.add("parameters.masked_task_vector_merge_method: ties with an FFG mask (precond_threshold"
						+ " or ffg_density) is not supported" + at);
			}
		}
	}

	/** The first value the levels give, highest precedence first, read as above. */
	private static Double read(List<Map<String, ParameterValue>> levels, String parameter, String field, String tensor,
			double t, Set<String> problems) {
		for (Map<String, ParameterValue> level : levels) {
			Double value = read(level.get(parameter), parameter, field, tensor, t, problems);
			if (value != null) {
				return value;
			}
		}
		return null;
	}

	/**
	 * Checks one tensor's resolved values against what the method can compute; each
	 * problem names the field and the tensor, since gradients and filters make a value
	 * valid on one tensor and not on another.
	 */
	private static void checkRanges(Spec spec, Tuning tuning, TensorSpec tensor, boolean[] present, List<String> fields,
			Set<String> problems) {
		String at = " (tensor '" + tensor.name() + "')";
		long elements = tensor.elementCount();
		double weights = 0;
		for (int i = 0; i < tuning.terms().size(); i++) {
			Map<String, Double> term = tuning.terms().get(i);
			// Only the terms that change this tensor weigh in its sum, as in mergekit,
			// where an absent tensor means an absent input.
			if (present[i] && term.containsKey("weight")) {
				weights += term.get("weight");
			}
			String field = fields.get(i);
			if (spec.gta() && present[i]) {
				double density = term.get("density");
				if (!(density >= 0)) {
					problems.add(field + "density: must be at least 0, not " + density + at);
				}
				if (spec.sparsifier() == Sparsifier.MAGNITUDE && density < 1 && (long) (density * elements) == 0) {
					// mergekit asserts k > 0 and aborts the merge; we refuse up front.
					problems.add(field + "density: " + density + " keeps no element of a " + elements
							+ "-element tensor (int(density·numel) = 0)" + at);
				}
				if (spec.sparsifier() == Sparsifier.OUTLIERS) {
					// Above 1 − density, mergekit drops fewer top magnitudes (n_top +
					// n_bot).
					double gamma = term.get("gamma");
					if (!(gamma >= 0 && gamma <= 1)) {
						problems.add(field + "gamma: must be in [0, 1], not " + gamma + at);
					}
				}
				if (spec.sparsifier() == Sparsifier.DELLA && density > 0 && density < 1) {
					double epsilon = term.get("epsilon");
					if (!(density - epsilon > 0 && density + epsilon < 1)) {
						problems.add(field + "epsilon: density ± epsilon must lie in (0, 1), not " + density + " ± "
								+ epsilon + at);
					}
				}
			}
		}
		switch (spec.name()) {
			case "linear" -> {
				if (tuning.flag("normalize") && weights == 0) {
					problems.add("terms[].parameters.weight: the weights sum to 0, and normalize divides by"
							+ " their sum" + at);
				}
			}
			case "multislerp" -> {
				if (tuning.flag("normalize_weights") && weights == 0) {
					problems.add("terms[].parameters.weight: the weights sum to 0, and normalize_weights divides"
							+ " by their sum" + at);
				}
				if (!(tuning.global("eps") > 0)) {
					problems.add("parameters.eps: must be positive" + at);
				}
			}
			case "karcher" -> {
				double iterations = tuning.global("max_iter");
				if (!(iterations >= 0 && iterations == Math.rint(iterations) && iterations <= 10_000)) {
					problems.add("parameters.max_iter: must be a whole number in [0, 10000]" + at);
				}
				if (!(tuning.global("tol") > 0)) {
					problems.add("parameters.tol: must be positive" + at);
				}
			}
			case "sce" -> {
				// mergekit's select_topk ≤ 0 returns tensors with an extra model axis.
				if (!(tuning.global("select_topk") > 0)) {
					problems.add("parameters.select_topk: must be above 0 (1 keeps every position), not "
							+ tuning.global("select_topk") + at);
				}
			}
			case "ram" -> {
				if (!(tuning.global("epsilon") >= 0)) {
					problems.add("parameters.epsilon: must be at least 0" + at);
				}
			}
			case "ota" -> checkOta(tuning, tensor, present, problems, at);
			case "ffg" -> {
				double density = tuning.global("density");
				if (!(density >= 0 && density <= 1)) {
					problems.add("parameters.density: must be in [0, 1], not " + density + at);
				}
			}
			default -> {
			}
		}
	}

}
