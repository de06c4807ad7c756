package dev.patchbay.registry;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.NotFoundException;

/**
 * No model, patch or dataset has the requested id.
 */
public class ArtifactNotFoundException extends NotFoundException {

	private ArtifactNotFoundException(ArtifactType type, UUID id) {
		super(type.name().toLowerCase() + "-not-found", label(type) + " not found",
				"no " + type.name().toLowerCase() + " has id " + id, Map.of("id", id.toString()));
	}

	public static ArtifactNotFoundException forId(ArtifactType type, UUID id) {
		return new ArtifactNotFoundException(type, id);
	}

	private static String label(ArtifactType type) {
		String name = type.name().toLowerCase();
		return Character.toUpperCase(name.charAt(0)) + name.substring(1);
	}

}
