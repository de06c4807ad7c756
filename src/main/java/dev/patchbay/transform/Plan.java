package dev.patchbay.transform;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import tools.jackson.databind.node.ObjectNode;

import dev.patchbay.shared.TensorSpec;

/**
 * A checked transform: the output tensors in file order, each produced only when it is
 * written, the edit of {@code config.json}, and the report (which producers may complete,
 * e.g. with per-tensor errors).
 *
 * @param outputs the output tensors
 * @param config edits the source's config in place (applied only when it has one)
 * @param report the parameters and results, as the response and the model's config show
 * them
 */
record Plan(List<Output> outputs, Consumer<ObjectNode> config, Map<String, Object> report) {

	/** One output tensor. */
	record Output(TensorSpec spec, Producer producer) {
	}

	/** Computes an output tensor's bytes, little-endian, exactly its spec's size. */
	@FunctionalInterface
	interface Producer {

		ByteBuffer produce() throws IOException;

	}

}
