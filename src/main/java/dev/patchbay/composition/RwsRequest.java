package dev.patchbay.composition;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A Robust Weight Signature to derive on the server.
 *
 * @param name the patch name
 * @param version an optional version
 * @param cleanModelId the model trained on clean data
 * @param robustModelId the model made robust (e.g. fine-tuned on corrupted data)
 * @param pretrainedModelId the common pretrained model; without it the signature is
 * robust − clean
 * @param include regexes choosing the (shallow) tensors the signature keeps; required
 * @param quantization optional uniform min–max quantization of the signature
 * @param labels optional labels
 */
public record RwsRequest(String name, String version, String cleanModelId, String robustModelId,
		String pretrainedModelId, List<String> include, Quantization quantization, Map<String, String> labels) {

	/**
	 * Uniform asymmetric min–max quantization.
	 *
	 * @param bits 8, 4 or 2
	 * @param granularity {@code tensor} (one range per tensor) or {@code channel} (one
	 * per output channel)
	 */
	public record Quantization(Integer bits, String granularity) {
	}

}
