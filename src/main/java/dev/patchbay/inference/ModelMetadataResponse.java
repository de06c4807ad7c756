package dev.patchbay.inference;

import java.util.List;

/**
 * KServe v2 model metadata.
 *
 * @param name the model or composition id
 * @param versions the available versions
 * @param platform the runtime
 * @param inputs declared inputs (shape -1 where variable)
 * @param outputs declared outputs
 */
public record ModelMetadataResponse(String name, List<String> versions, String platform, List<TensorMetadata> inputs,
		List<TensorMetadata> outputs) {

	/**
	 * One declared tensor.
	 *
	 * @param name its name
	 * @param datatype its KServe datatype
	 * @param shape its dimensions, -1 where variable
	 */
	public record TensorMetadata(String name, String datatype, List<Long> shape) {
	}

}
