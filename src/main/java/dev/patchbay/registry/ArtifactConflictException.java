package dev.patchbay.registry;

import java.util.List;
import java.util.Map;

import dev.patchbay.shared.ConflictException;

/**
 * An artifact cannot be created or removed in the registry's current state.
 */
public class ArtifactConflictException extends ConflictException {

	private ArtifactConflictException(String type, String title, String detail, Map<String, ?> properties) {
		super(type, title, detail, properties);
	}

	public static ArtifactConflictException alreadyExists(ArtifactType type, String name, String version,
			String field) {
		return new ArtifactConflictException("artifact-exists", "Artifact already exists",
				"a " + type.name().toLowerCase() + " named '" + name + "'"
						+ ((version != null) ? " with version '" + version + "'" : " without a version")
						+ " already exists",
				Map.of("field", field));
	}

	public static ArtifactConflictException stillReferenced(ArtifactType type, List<String> referencedBy) {
		return new ArtifactConflictException("artifact-in-use", "Artifact still referenced",
				"this " + type.name().toLowerCase() + " is still referenced by " + referencedBy,
				Map.of("referencedBy", referencedBy));
	}

}
