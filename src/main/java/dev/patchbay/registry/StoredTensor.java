package dev.patchbay.registry;

import dev.patchbay.shared.TensorSpec;

/**
 * A tensor of an artifact's manifest and where its bytes lie among the artifact's files.
 *
 * @param spec name, dtype and shape
 * @param fileOrdinal index into the artifact's files
 * @param dataOffset absolute byte offset of the data inside that file
 */
public record StoredTensor(TensorSpec spec, int fileOrdinal, long dataOffset) {

	public String name() {
		return this.spec.name();
	}

}
