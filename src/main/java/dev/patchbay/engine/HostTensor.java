package dev.patchbay.engine;

import java.nio.ByteBuffer;

import dev.patchbay.shared.DType;

/**
 * A tensor in host memory, as it crosses the engine boundary: dtype, shape and
 * little-endian bytes. NDArrays never leave the engine.
 *
 * @param dtype the element type (never BF16: convert through F32 first)
 * @param shape the dimensions
 * @param data the elements, row-major, little-endian
 */
public record HostTensor(DType dtype, long[] shape, ByteBuffer data) {

	public long elementCount() {
		long count = 1;
		for (long dim : this.shape) {
			count *= dim;
		}
		return count;
	}

}
