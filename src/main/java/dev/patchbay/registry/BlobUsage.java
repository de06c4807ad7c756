package dev.patchbay.registry;

import java.io.IOException;
import java.util.List;

import org.springframework.stereotype.Component;

import dev.patchbay.storage.BlobStore;

/**
 * Decides when a blob may go: only when no artifact file and no other module still uses
 * it, since identical content is stored once and shared.
 */
@Component
class BlobUsage {

	private final ArtifactRepository artifacts;

	private final BlobStore blobs;

	private final List<ArtifactReferences> references;

	BlobUsage(ArtifactRepository artifacts, BlobStore blobs, List<ArtifactReferences> references) {
		this.artifacts = artifacts;
		this.blobs = blobs;
		this.references = references;
	}

	void deleteIfUnused(String digest) throws IOException {
		boolean used = this.artifacts.isBlobReferenced(digest)
				|| this.references.stream().anyMatch((module) -> module.holdsBlob(digest));
		if (!used) {
			this.blobs.delete(digest);
		}
	}

}
