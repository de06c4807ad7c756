package dev.patchbay.registry;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * No model, patch or dataset has the requested id.
 */
public class ArtifactNotFoundException extends NotFoundException {

	private ArtifactNotFoundException(ArtifactType type, UUID id) {
		super(kindOf(type), "no " + type.name().toLowerCase() + " has id " + id, Map.of("id", id.toString()));
	}

	private ArtifactNotFoundException(ArtifactType type, String reference, String field) {
		super(kindOf(type),
				((field != null) ? field + ": " : "") + "no " + type.name().toLowerCase() + " is '" + reference + "'",
				(field != null) ? Map.of("reference", reference, "field", field) : Map.of("reference", reference));
	}

	public static ArtifactNotFoundException forId(ArtifactType type, UUID id) {
		return new ArtifactNotFoundException(type, id);
	}

	/**
	 * No artifact answers a reference ({@code name}, {@code name@version},
	 * {@code name@alias}).
	 * @param field the request field that held the reference, or null
	 */
	public static ArtifactNotFoundException forReference(ArtifactType type, String reference, String field) {
		return new ArtifactNotFoundException(type, reference, field);
	}

	private static ProblemKind kindOf(ArtifactType type) {
		return switch (type) {
			case MODEL -> ProblemKind.MODEL_NOT_FOUND;
			case PATCH -> ProblemKind.PATCH_NOT_FOUND;
			case DATASET -> ProblemKind.DATASET_NOT_FOUND;
		};
	}

}
