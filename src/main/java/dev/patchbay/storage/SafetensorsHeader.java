package dev.patchbay.storage;

import java.util.List;
import java.util.Map;

/**
 * The validated header of a safetensors file.
 *
 * @param tensors every tensor, in the order of their data in the file
 * @param metadata the string-to-string {@code __metadata__} map, empty when absent
 * @param fileSize the size of the whole file in bytes
 */
public record SafetensorsHeader(List<TensorEntry> tensors, Map<String, String> metadata, long fileSize) {

	public SafetensorsHeader {
		tensors = List.copyOf(tensors);
		metadata = Map.copyOf(metadata);
	}

}
