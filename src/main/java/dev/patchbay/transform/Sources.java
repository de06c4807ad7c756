package dev.patchbay.transform;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import dev.patchbay.engine.TensorData;
import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;

/** The source model's tensors, read one at a time. */
final class Sources {

	private final ArtifactContent model;

	// Built once: the MLP neuron choice looks up its sibling tensors by name.
	private final Map<String, StoredTensor> byName;

	Sources(ArtifactContent model) {
		this.model = model;
		this.byName = model.tensorsByName();
	}

	List<StoredTensor> tensors() {
		return this.model.tensors();
	}

	Map<String, StoredTensor> byName() {
		return this.byName;
	}

	/** A tensor's stored bytes. */
	byte[] bytes(StoredTensor tensor) throws IOException {
		return TensorData.readBytes(this.model.fileOf(tensor), tensor.dataOffset(), size(tensor));
	}

	/** A floating-point tensor as float32. */
	float[] floats(StoredTensor tensor) throws IOException {
		// bfloat16 and float16 widen to float32 exactly, so transforms computing in
		// float32 lose nothing on the way in.
		float[] values = new float[Math.toIntExact(tensor.spec().elementCount())];
		TensorData.readFloats(this.model.fileOf(tensor), tensor.dataOffset(), tensor.spec().dtype(), 0, values,
				values.length);
		return values;
	}

	/**
	 * A transform holds one tensor on the heap at a time, so a tensor must fit in one
	 * array.
	 */
	static int size(StoredTensor tensor) {
		long bytes = tensor.spec().byteSize();
		if (bytes > Integer.MAX_VALUE - 8) {
			throw new UnprocessableException(ProblemKind.TENSOR_TOO_LARGE, "tensor '" + tensor.name() + "' has " + bytes
					+ " bytes; a transform handles at most 2 GiB per tensor", Map.of("tensor", tensor.name()));
		}
		return (int) bytes;
	}

}
