package dev.patchbay.registry;

import java.util.List;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import dev.patchbay.shared.TensorSpec;

/**
 * Keeps a {@code config.json} true to weights that differ from the ones it came with.
 */
public final class ModelConfigs {

	public static final String PATH = "config.json";

	private static final JsonMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

	private ModelConfigs() {
	}

	/**
	 * The config for these tensors: {@code vocab_size} follows the rows of the input
	 * embedding (a fine-tune that added tokens pads it). Unchanged configs come back byte
	 * for byte.
	 */
	public static byte[] updated(byte[] config, List<TensorSpec> tensors) {
		return updated(config, tensors, null);
	}

	/**
	 * The config for these tensors, and with a layer count when the weights have a
	 * different number of layers than their source (a frankenmerge's slices): the count
	 * goes into {@code num_hidden_layers}, or GPT-2's {@code n_layer}.
	 * @param layers the layer count of the tensors, or null to leave it as it is
	 */
	public static byte[] updated(byte[] config, List<TensorSpec> tensors, Integer layers) {
		byte[] updated = vocabulary(config, tensors);
		if (layers == null) {
			return updated;
		}
		JsonNode root;
		try {
			root = JSON.readTree(updated);
		}
		catch (RuntimeException ex) {
			return updated;
		}
		if (!(root instanceof ObjectNode object)) {
			return updated;
		}
		for (String key : List.of("num_hidden_layers", "n_layer")) {
			if (root.path(key).isIntegralNumber() && root.path(key).asInt() != layers) {
				object.put(key, layers);
				return JSON.writeValueAsBytes(object);
			}
		}
		return updated;
	}

	private static byte[] vocabulary(byte[] config, List<TensorSpec> tensors) {
		JsonNode root;
		try {
			root = JSON.readTree(config);
		}
		catch (RuntimeException ex) {
			return config;
		}
		if (!(root instanceof ObjectNode object) || !root.path("vocab_size").isIntegralNumber()) {
			return config;
		}
		Long rows = tensors.stream()
			.filter((tensor) -> tensor.isVocabularyTable() && !tensor.name().contains("lm_head")
					&& !tensor.name().contains("embed_out"))
			.map((tensor) -> tensor.shape().get(0))
			.findFirst()
			.orElse(null);
		if (rows == null || rows == root.path("vocab_size").asLong()) {
			return config;
		}
		object.put("vocab_size", rows);
		return JSON.writeValueAsBytes(object);
	}

}
