package dev.patchbay.composition;

import java.util.List;
import java.util.Map;

/**
 * A diff vector to derive on the server: finetuned − base.
 *
 * @param name the patch name
 * @param version an optional version
 * @param baseModelId the model fine-tuning started from: an id or a reference
 * @param finetunedModelId the fine-tuned model: an id or a reference
 * @param include regexes; when given, only tensors whose name matches one are kept
 * @param exclude regexes; tensors whose name matches one are dropped
 * @param dtype stored dtype of the deltas; defaults to the fine-tuned tensor's dtype
 * @param labels optional labels
 */
public record DiffRequest(String name, String version, String baseModelId, String finetunedModelId,
		List<String> include, List<String> exclude, String dtype, Map<String, String> labels) {
}
