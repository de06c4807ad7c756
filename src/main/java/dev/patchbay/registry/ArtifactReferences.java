package dev.patchbay.registry;

import java.util.List;
import java.util.UUID;

/**
 * Implemented by modules that hold references to registry artifacts or blobs
 * (compositions, for one), so that the registry refuses to delete what they still use
 * without depending on them.
 */
public interface ArtifactReferences {

	/**
	 * Human-readable descriptions of what still references the artifact; empty when
	 * nothing does.
	 */
	List<String> referencesTo(UUID artifactId);

	/**
	 * Whether this module keeps a blob alive, e.g. as a cached result.
	 */
	boolean holdsBlob(String digest);

}
