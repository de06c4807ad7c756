package dev.patchbay.registry;

import jakarta.persistence.Embeddable;

/**
 * The row of an {@link Artifact}'s file; other modules see it as a {@link StoredFile}.
 */
@Embeddable
record ArtifactFile(String role, String fileName, String digest, long sizeBytes) {

	StoredFile stored() {
		return new StoredFile(this.role, this.fileName, this.digest, this.sizeBytes);
	}

}
