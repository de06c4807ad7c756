package dev.patchbay.composition;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;

import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.MappingIterator;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.dataformat.yaml.YAMLMapper;

import dev.patchbay.composition.CompositionInvalidException.Problem;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Registry;

/**
 * A mergekit config (YAML, mergekit's {@code MergeConfiguration}) translated to a
 * mergekit-dialect draft. Models are registered models named {@code name},
 * {@code name@version} or by id; every key is honoured or refused by name, all problems
 * in one 422. It yields the same draft a JSON body in the mergekit dialect does, so that
 * a config and its JSON form are checked by one {@code Recipe.from} and share a digest.
 */
final class MergekitConfig {

	// A plain YAML mapper, not the application's JSON one: mergekit configs carry no type
	// information, and unknown keys are checked by hand below so that each gets its own
	// problem.
	private static final YAMLMapper YAML = YAMLMapper.builder().build();

	/** Keys refused by name: valid mergekit, not supported here yet. */
	private static final Map<String, String> NOT_YET = Map.of("modules", "per-module configs are not supported yet",
			"tokenizer_source", "tokenizer merging is not supported; compositions carry weights only", "tokenizer",
			"tokenizer merging is not supported; compositions carry weights only", "chat_template",
			"chat templates are not supported; compositions carry weights only", "name",
			"named (multi-document) configs are not supported yet");

	// The top-level keys of mergekit's MergeConfiguration this translation honours.
	private static final Set<String> KEYS = Set.of("merge_method", "base_model", "models", "slices", "parameters",
			"dtype", "out_dtype");

	// mergekit's dtype names (torch's) to ours.
	private static final Map<String, String> DTYPES = Map.of("float32", "F32", "float16", "F16", "bfloat16", "BF16",
			"float64", "F64");

	private final Registry registry;

	// Collected across the whole config, so one 422 lists every problem; an instance
	// translates one config only.
	private final List<Problem> problems = new ArrayList<>();

	MergekitConfig(Registry registry) {
		this.registry = registry;
	}

	/** Parses and translates a config, or throws one 422 listing every problem. */
	RecipeDraft.Mergekit translate(String yaml) {
		JsonNode config = parse(yaml);
		config.propertyNames().forEach((key) -> {
			if (NOT_YET.containsKey(key)) {
				problem(key, NOT_YET.get(key));
			}
			else if (!KEYS.contains(key)) {
				problem(key, "is not a key of a mergekit config");
			}
		});
		// The method name is passed on as it is: the request's validation knows the
		// methods and lists the supported ones when it is unknown.
		String method = null;
		if (config.path("merge_method").isString()) {
			method = config.get("merge_method").asString();
		}
		else {
			problem("merge_method", "is required (a method name)");
		}
		UUID base = config.has("base_model") ? model("base_model", config.get("base_model")) : null;
		List<RecipeDraft.Term> terms = new ArrayList<>();
		JsonNode models = config.path("models");
		List<RecipeDraft.Slice> slices = null;
		if (config.has("slices")) {
			if (config.has("models")) {
				problem("slices", "and models exclude each other (mergekit takes exactly one of them)");
			}
			slices = slices(config.get("slices"));
		}
		else if (!models.isArray() || models.isEmpty()) {
			problem("models", "is required: a list of {model, parameters} (or slices instead)");
		}
		if (models.isArray()) {
			// The base may be listed among the models, as mergekit's examples do; it is
			// then the base and not a term, so it is not counted twice.
			for (int i = 0; i < models.size(); i++) {
				RecipeDraft.Term term = term("models[" + i + "]", models.get(i));
				if (base == null || !base.toString().equals(term.modelId())) {
					terms.add(term);
				}
				else if (term.parameters() != null) {
					// mergekit lists the base among the models (its arcee_fusion
					// and slerp examples do); it is the base only, and its
					// parameters would be moot.
					problem("models[" + i + "].parameters", "are the base model's; it takes none here");
				}
			}
		}
		Map<String, JsonNode> parameters = parameters("parameters", config.get("parameters"));
		String outputDtype = null;
		String computeDtype = null;
		// dtype rounds the inputs before the method runs, and is the output dtype unless
		// out_dtype is given, as in mergekit.
		for (String key : List.of("dtype", "out_dtype")) {
			if (config.has(key)) {
				String dtype = DTYPES.get(config.get(key).asString("").toLowerCase(Locale.ROOT));
				if (dtype == null) {
					problem(key, "must be one of " + String.join(", ", DTYPES.keySet()));
					continue;
				}
				if (key.equals("dtype")) {
					computeDtype = dtype;
				}
				if (key.equals("out_dtype") || outputDtype == null) {
					outputDtype = dtype;
				}
			}
		}
		// Translation problems first; the request built below is validated like any other
		// (weights, ranges, shapes), so a translated config gets the same checks.
		if (!this.problems.isEmpty()) {
			throw CompositionInvalidException.of(this.problems);
		}
		return new RecipeDraft.Mergekit((base != null) ? base.toString() : null, (slices != null) ? null : terms,
				method, null, parameters, slices, computeDtype, new RecipeDraft.Output(outputDtype, null, null, null));
	}

	// mergekit-multi's multi-document files chain configs by name; one document only
	// here, so a second one is refused rather than silently ignored.
	private JsonNode parse(String yaml) {
		List<JsonNode> documents = new ArrayList<>();
		try (MappingIterator<JsonNode> iterator = YAML.readerFor(JsonNode.class).readValues(yaml)) {
			while (iterator.hasNextValue()) {
				documents.add(iterator.nextValue());
			}
		}
		catch (JacksonException ex) {
			problem("yaml", "is not valid YAML: " + ex.getOriginalMessage());
			throw CompositionInvalidException.of(this.problems);
		}
		if (documents.size() != 1 || !documents.get(0).isObject()) {
			problem("yaml",
					(documents.size() > 1)
							? "holds " + documents.size() + " documents; multi-document configs are not supported yet"
							: "must be one mapping (a mergekit config)");
			throw CompositionInvalidException.of(this.problems);
		}
		return documents.get(0);
	}

	/**
	 * mergekit's {@code slices}: each {@code {sources: [{model, layer_range,
	 * parameters}], parameters}}; the base model stays a source, as it is in mergekit.
	 */
	private List<RecipeDraft.Slice> slices(JsonNode node) {
		List<RecipeDraft.Slice> slices = new ArrayList<>();
		if (!node.isArray() || node.isEmpty()) {
			problem("slices", "must be a list of {sources, parameters}");
			return slices;
		}
		for (int i = 0; i < node.size(); i++) {
			String field = "slices[" + i + "]";
			JsonNode slice = node.get(i);
			if (!slice.isObject()) {
				problem(field, "must be a mapping {sources, parameters}");
				continue;
			}
			slice.propertyNames().forEach((key) -> {
				// Valid per-slice keys of mergekit that this translation cannot honour,
				// refused by name rather than dropped.
				if (key.equals("base_model") || key.equals("residual_weight")) {
					problem(field + "." + key,
							"per-slice " + key + " is not supported; set base_model for the" + " whole config");
				}
				else if (!key.equals("sources") && !key.equals("parameters")) {
					problem(field + "." + key, "is not a key of a slice (sources, parameters)");
				}
			});
			List<RecipeDraft.Source> sources = new ArrayList<>();
			JsonNode entries = slice.path("sources");
			if (!entries.isArray()) {
				problem(field + ".sources", "is required: a list of {model, layer_range, parameters}");
			}
			for (int j = 0; j < entries.size(); j++) {
				sources.add(source(field + ".sources[" + j + "]", entries.get(j)));
			}
			slices.add(new RecipeDraft.Slice(sources, parameters(field + ".parameters", slice.get("parameters"))));
		}
		return slices;
	}

	private RecipeDraft.Source source(String field, JsonNode entry) {
		if (!entry.isObject()) {
			problem(field, "must be a mapping {model, layer_range, parameters}");
			return new RecipeDraft.Source(null, null, null);
		}
		entry.propertyNames().forEach((key) -> {
			if (!List.of("model", "layer_range", "parameters").contains(key)) {
				problem(field + "." + key, "is not a key of a slice source (model, layer_range, parameters)");
			}
		});
		UUID model = null;
		if (entry.has("model")) {
			model = model(field + ".model", entry.get("model"));
		}
		else {
			problem(field + ".model", "is required");
		}
		List<Integer> range = null;
		JsonNode layers = entry.path("layer_range");
		// mergekit's layer_range is half-open, [from, to).
		if (layers.isArray() && layers.size() == 2 && layers.get(0).isIntegralNumber()
				&& layers.get(1).isIntegralNumber()) {
			range = List.of(layers.get(0).asInt(), layers.get(1).asInt());
		}
		else {
			problem(field + ".layer_range", "is required: two integers [from, to], to exclusive");
		}
		return new RecipeDraft.Source((model != null) ? model.toString() : null, range,
				parameters(field + ".parameters", entry.get("parameters")));
	}

	private RecipeDraft.Term term(String field, JsonNode entry) {
		if (!entry.isObject()) {
			problem(field, "must be a mapping {model, parameters}");
			return new RecipeDraft.Term(null, null, null, null);
		}
		entry.propertyNames().forEach((key) -> {
			if (!key.equals("model") && !key.equals("parameters")) {
				problem(field + "." + key, "is not a key of a model entry (model, parameters)");
			}
		});
		UUID model = entry.has("model") ? model(field + ".model", entry.get("model")) : null;
		if (!entry.has("model")) {
			problem(field + ".model", "is required");
		}
		return new RecipeDraft.Term(null, null, (model != null) ? model.toString() : null,
				parameters(field + ".parameters", entry.get("parameters")));
	}

	private Map<String, JsonNode> parameters(String field, JsonNode node) {
		if (node == null || node.isNull()) {
			return null;
		}
		if (!node.isObject()) {
			problem(field, "must be a mapping of parameter names to values");
			return null;
		}
		Map<String, JsonNode> parameters = new LinkedHashMap<>();
		// Values are kept as JSON (scalars, gradients, filter lists) for the recipe's own
		// parameter parsing, which is shared with JSON requests.
		node.properties().forEach((entry) -> parameters.put(entry.getKey(), numbers(entry.getValue())));
		return parameters;
	}

	/**
	 * YAML 1.1 reads some numbers ({@code 1e-26}) as strings, as mergekit's loader does.
	 */
	private static JsonNode numbers(JsonNode value) {
		if (value.isString()) {
			try {
				// Only parameter values reach here; a string that is no number (a filter,
				// a method name) stays a string.
				return JsonNodeFactory.instance.numberNode(Double.parseDouble(value.asString()));
			}
			catch (NumberFormatException ex) {
				return value;
			}
		}
		if (value.isArray()) {
			var array = JsonNodeFactory.instance.arrayNode();
			value.forEach((element) -> array.add(numbers(element)));
			return array;
		}
		if (value.isObject()) {
			var object = JsonNodeFactory.instance.objectNode();
			value.properties().forEach((entry) -> object.set(entry.getKey(), numbers(entry.getValue())));
			return object;
		}
		return value;
	}

	/**
	 * A registered model: an id, {@code name} (its latest version) or
	 * {@code name@version}.
	 */
	private UUID model(String field, JsonNode node) {
		if (!node.isString() || node.asString().isBlank()) {
			problem(field, "must name a registered model (name, name@version or id)");
			return null;
		}
		String reference = node.asString();
		// mergekit's model+lora merges an adapter into its model before the merge; here
		// the adapter would be a registered patch, which compositions take as a term.
		if (reference.contains("+")) {
			problem(field, "'" + reference + "': LoRA references (model+lora) are not supported; upload the"
					+ " adapter as a patch");
			return null;
		}
		// The registry's own rule: an id, name (latest), name@version or name@alias.
		Optional<UUID> id = this.registry.tryResolve(ArtifactType.MODEL, reference);
		if (id.isPresent()) {
			return id.get();
		}
		problem(field, "'" + reference + "' is not a registered model");
		return null;
	}

	private void problem(String field, String message) {
		this.problems.add(new Problem(null, null, null, field + ": " + message, null, null));
	}

}
