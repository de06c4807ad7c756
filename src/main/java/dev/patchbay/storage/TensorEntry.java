package dev.patchbay.storage;

import dev.patchbay.shared.TensorSpec;

/**
 * A tensor in a safetensors file: its spec and where its bytes lie.
 *
 * @param spec name, dtype and shape
 * @param offset absolute byte offset of the data in the file
 * @param length byte length of the data, equal to {@code spec.byteSize()}
 */
public record TensorEntry(TensorSpec spec, long offset, long length) {

	public String name() {
		return this.spec.name();
	}

}
