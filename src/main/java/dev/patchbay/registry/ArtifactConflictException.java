package dev.patchbay.registry;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.ConflictException;
import dev.patchbay.shared.ProblemKind;

/**
 * An artifact cannot be created or removed in the registry's current state.
 */
public class ArtifactConflictException extends ConflictException {

	private ArtifactConflictException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(kind, detail, properties);
	}

	/**
	 * @param existingId the artifact that holds the name and version, so that a client
	 * can use it instead; null if it went meanwhile
	 */
	public static ArtifactConflictException alreadyExists(ArtifactType type, String name, String version, String field,
			UUID existingId) {
		Map<String, Object> properties = new LinkedHashMap<>();
		properties.put("field", field);
		if (existingId != null) {
			properties.put("existingId", existingId.toString());
		}
		return new ArtifactConflictException(ProblemKind.ARTIFACT_EXISTS,
				"a " + type.name().toLowerCase() + " named '" + name + "'"
						+ ((version != null) ? " with version '" + version + "'" : " without a version")
						+ " already exists" + ((existingId != null) ? ": " + existingId : ""),
				properties);
	}

	public static ArtifactConflictException stillReferenced(ArtifactType type, List<String> referencedBy) {
		return new ArtifactConflictException(ProblemKind.ARTIFACT_IN_USE,
				"this " + type.name().toLowerCase() + " is still referenced by " + referencedBy,
				Map.of("referencedBy", referencedBy));
	}

}
