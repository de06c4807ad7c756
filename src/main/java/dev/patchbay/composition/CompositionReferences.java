package dev.patchbay.composition;

import java.util.List;
import java.util.UUID;

import org.springframework.stereotype.Component;

import dev.patchbay.registry.ArtifactReferences;

/**
 * Tells the registry which models and patches compositions use, and which blobs hold
 * their results, so that neither is deleted under them.
 */
@Component
class CompositionReferences implements ArtifactReferences {

	private final CompositionRepository compositions;

	CompositionReferences(CompositionRepository compositions) {
		this.compositions = compositions;
	}

	@Override
	public List<String> referencesTo(UUID artifactId) {
		return this.compositions.referencing(artifactId);
	}

	@Override
	public boolean holdsBlob(String digest) {
		return this.compositions.holdsResult(digest);
	}

}
