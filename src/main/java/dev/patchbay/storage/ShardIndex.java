package dev.patchbay.storage;

import java.util.LinkedHashMap;
import java.util.Map;

import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A sharded model's {@code model.safetensors.index.json}: which shard file holds each
 * tensor.
 *
 * @param weightMap tensor name to shard file name
 */
public record ShardIndex(Map<String, String> weightMap) {

	/**
	 * Largest index file accepted; real ones are a few MB even for the biggest models.
	 */
	public static final int MAX_BYTES = 64 * 1024 * 1024;

	private static final JsonMapper JSON = JsonMapper.builder()
		.enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
		.build();

	public ShardIndex {
		weightMap = Map.copyOf(weightMap);
	}

	/**
	 * Parses an index file.
	 * @throws SafetensorsFormatException if it is not JSON or has no string-to-string
	 * {@code weight_map}
	 */
	public static ShardIndex parse(byte[] json, String source) {
		JsonNode root;
		try {
			root = JSON.readTree(json);
		}
		catch (JacksonException ex) {
			throw SafetensorsFormatException.forFile(source, "is not valid JSON: " + ex.getOriginalMessage());
		}
		JsonNode map = (root != null) ? root.get("weight_map") : null;
		if (map == null || !map.isObject()) {
			throw SafetensorsFormatException.forFile(source, "has no weight_map object");
		}
		Map<String, String> weightMap = new LinkedHashMap<>();
		for (Map.Entry<String, JsonNode> entry : map.properties()) {
			if (!entry.getValue().isString()) {
				throw SafetensorsFormatException.forTensor(source, entry.getKey(), "maps to a non-string shard name");
			}
			weightMap.put(entry.getKey(), entry.getValue().asString());
		}
		return new ShardIndex(weightMap);
	}

}
