package dev.patchbay.composition;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;

import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;
import tools.jackson.databind.node.ObjectNode;
import tools.jackson.databind.JsonNode;
import tools.jackson.dataformat.yaml.YAMLMapper;
import tools.jackson.dataformat.yaml.YAMLWriteFeature;

import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;

/**
 * A recipe written back as a mergekit config, which {@link MergekitConfig} reads as the
 * same recipe: models named {@code name@version} (or by id where that is ambiguous),
 * parameters as given. Recipes mergekit cannot express are refused with every reason in
 * one 422.
 */
final class MergekitExport {

	private static final YAMLMapper YAML = YAMLMapper.builder()
		.enable(YAMLWriteFeature.MINIMIZE_QUOTES)
		.enable(YAMLWriteFeature.ALWAYS_QUOTE_NUMBERS_AS_STRINGS)
		.disable(YAMLWriteFeature.WRITE_DOC_START_MARKER)
		.build();

	private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

	/** Parameters that mergekit reads as booleans, written as such. */
	private static final Set<String> FLAGS = Set.of("normalize", "rescale", "int8_mask", "nuslerp_flatten",
			"nuslerp_row_wise", "filter_wise", "normalize_weights");

	private static final Map<DType, String> DTYPES = Map.of(DType.F32, "float32", DType.F16, "float16", DType.BF16,
			"bfloat16", DType.F64, "float64");

	private MergekitExport() {
	}

	/**
	 * The recipe as mergekit YAML.
	 * @param models a model's registry entry by id
	 * @throws UnprocessableException naming every part of the recipe mergekit has no
	 * equivalent for
	 */
	static String yaml(Recipe recipe, Function<UUID, ArtifactDetails> models) {
		List<String> reasons = new ArrayList<>();
		if (recipe.dialect() != Recipe.Dialect.MERGEKIT) {
			reasons.add("method: '" + recipe.method().wireName() + "' is a peft-dialect method (PEFT's merge_utils"
					+ " semantics), which no mergekit method computes; only mergekit-dialect recipes are expressible");
		}
		for (int i = 0; i < recipe.terms().size(); i++) {
			if (recipe.terms().get(i).patchId() != null) {
				reasons.add("terms[" + i + "].patchId: a patch (LoRA, diff or signature) has no mergekit equivalent;"
						+ " mergekit merges whole models");
			}
		}
		if (recipe.method().seed() != 0) {
			reasons.add("seed: " + recipe.method().seed() + " has no mergekit key; only seed 0 reads back the same");
		}
		if (!recipe.safeMerge()) {
			reasons.add("safeMerge: false has no mergekit key; mergekit configs compose with the safe merge here");
		}
		if (!reasons.isEmpty()) {
			throw new UnprocessableException(ProblemKind.RECIPE_NOT_EXPRESSIBLE, String.join("; ", reasons),
					Map.of("reasons", reasons));
		}
		ObjectNode config = NODES.objectNode();
		config.put("merge_method", recipe.method().wireName());
		if (recipe.baseModelId() != null) {
			config.put("base_model", reference(models.apply(recipe.baseModelId())));
		}
		if (recipe.sliced()) {
			ArrayNode slices = config.putArray("slices");
			for (Recipe.Slice slice : recipe.slices()) {
				ObjectNode entry = slices.addObject();
				ArrayNode sources = entry.putArray("sources");
				for (Recipe.Source source : slice.sources()) {
					ObjectNode described = sources.addObject();
					described.put("model", reference(models.apply(source.modelId())));
					described.putArray("layer_range").add(source.from()).add(source.to());
					parameters(described, source.parameters());
				}
				parameters(entry, slice.parameters());
			}
		}
		else {
			ArrayNode list = config.putArray("models");
			for (Recipe.Term term : recipe.terms()) {
				ObjectNode entry = list.addObject();
				entry.put("model", reference(models.apply(term.modelId())));
				parameters(entry, term.parameters());
			}
		}
		parameters(config, recipe.parameters());
		if (recipe.computeDtype() != null) {
			config.put("dtype", DTYPES.get(recipe.computeDtype()));
		}
		if (recipe.outputDtype() != null && recipe.outputDtype() != recipe.computeDtype()) {
			config.put("out_dtype", DTYPES.get(recipe.outputDtype()));
		}
		return YAML.writeValueAsString(config);
	}

	/**
	 * {@code name@version}, which the reader resolves to exactly this model; its id where
	 * the name could read otherwise.
	 */
	private static String reference(ArtifactDetails model) {
		String name = model.name();
		if (model.version() == null || name.contains("@") || name.contains("+") || model.version().contains("@")) {
			return model.id().toString();
		}
		return name + "@" + model.version();
	}

	private static void parameters(ObjectNode parent, Map<String, ParameterValue> parameters) {
		if (parameters.isEmpty()) {
			return;
		}
		ObjectNode node = parent.putObject("parameters");
		parameters.forEach((name, value) -> node.set(name, node(name, value)));
	}

	private static JsonNode node(String name, ParameterValue value) {
		if (value instanceof ParameterValue.Scalar scalar) {
			double number = scalar.value();
			if (FLAGS.contains(name) && (number == 0 || number == 1)) {
				return NODES.booleanNode(number == 1);
			}
			return NODES.numberNode(number);
		}
		if (value instanceof ParameterValue.Text text) {
			return NODES.stringNode(text.value());
		}
		if (value instanceof ParameterValue.Gradient gradient) {
			ArrayNode points = NODES.arrayNode();
			gradient.points().forEach(points::add);
			return points;
		}
		ArrayNode entries = NODES.arrayNode();
		for (ParameterValue.Entry entry : ((ParameterValue.Conditional) value).entries()) {
			ObjectNode conditional = entries.addObject();
			if (entry.filter() != null) {
				conditional.put("filter", entry.filter());
			}
			conditional.set("value", node(name, entry.value()));
		}
		return entries;
	}

}
