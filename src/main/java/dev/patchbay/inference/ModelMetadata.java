package dev.patchbay.inference;

import java.util.List;

import dev.patchbay.registry.GraphSignature.Declaration;

/**
 * What inference on a model or composition takes and returns.
 *
 * @param name the model or composition id
 * @param versions the available versions
 * @param platform the runtime
 * @param inputs declared inputs (shape -1 where variable)
 * @param outputs declared outputs
 */
public record ModelMetadata(String name, List<String> versions, String platform, List<Declaration> inputs,
		List<Declaration> outputs) {
}
