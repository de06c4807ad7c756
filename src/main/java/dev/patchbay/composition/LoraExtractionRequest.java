package dev.patchbay.composition;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A LoRA adapter to extract on the server by truncated SVD, as
 * {@code mergekit-extract-lora} does: from a diff patch, or from a fine-tuned model and
 * its base.
 *
 * @param name the patch name
 * @param version an optional version
 * @param diffPatchId a diff patch whose deltas to factor (its base model supplies the
 * full weights of modules saved whole)
 * @param baseModelId the model fine-tuning started from
 * @param finetunedModelId the fine-tuned model
 * @param rank the largest rank kept per module
 * @param svEpsilon when positive, singular values at or below it are dropped too
 * @param include regexes; when given, only modules whose name matches one are extracted
 * @param exclude regexes; modules whose name matches one are left out entirely
 * @param embeddings factor embedding tables and lm_head too, instead of saving them whole
 * @param distributeScale split √S between the factors (mergekit's default), else S goes
 * to A
 * @param skipUndecomposable drop modules that cannot be factored (norms) instead of
 * saving them whole
 * @param labels optional labels
 */
public record LoraExtractionRequest(String name, String version, String diffPatchId, String baseModelId,
		String finetunedModelId, Integer rank, Double svEpsilon, List<String> include, List<String> exclude,
		Boolean embeddings, Boolean distributeScale, Boolean skipUndecomposable, Map<String, String> labels) {
}
