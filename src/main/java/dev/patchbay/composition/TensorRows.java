package dev.patchbay.composition;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import dev.patchbay.engine.TensorData;
import dev.patchbay.registry.StoredTensor;

/**
 * A stored tensor seen as rows (dim 0) of equal length. Rows past the tensor's end read
 * as zeros, which is how a vocabulary-padded tensor lines up with a larger one.
 *
 * @param file the file holding the tensor
 * @param tensor where in the file, and its spec
 */
record TensorRows(Path file, StoredTensor tensor) {

	long rows() {
		return rowsOf(this.tensor.spec().shape());
	}

	long rowElements() {
		return rowElementsOf(this.tensor.spec().shape());
	}

	/**
	 * Reads rows [row, row + rows) into out as float32, zero-filling rows past the end;
	 * for server-side derivations, which read each span once.
	 */
	void read(long row, int rows, float[] out) throws IOException {
		long rowElements = rowElements();
		long available = Math.max(0, Math.min(rows, rows() - row));
		int count = Math.toIntExact(available * rowElements);
		TensorData.readFloats(this.file, this.tensor.dataOffset(), this.tensor.spec().dtype(), row * rowElements, out,
				count);
		Arrays.fill(out, count, Math.toIntExact(rows * rowElements), 0f);
	}

	/** Reads the whole tensor as float32. */
	float[] readAll() throws IOException {
		float[] values = new float[Math.toIntExact(this.tensor.spec().elementCount())];
		read(0, Math.toIntExact(rows()), values);
		return values;
	}

	static long rowsOf(List<Long> shape) {
		return shape.isEmpty() ? 1 : shape.get(0);
	}

	static long rowElementsOf(List<Long> shape) {
		long elements = 1;
		for (int i = 1; i < shape.size(); i++) {
			elements *= shape.get(i);
		}
		return elements;
	}

}
