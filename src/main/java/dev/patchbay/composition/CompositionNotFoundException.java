package dev.patchbay.composition;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * No composition has the requested id.
 */
final class CompositionNotFoundException extends NotFoundException {

	private CompositionNotFoundException(UUID id) {
		super(ProblemKind.COMPOSITION_NOT_FOUND, "no composition has id " + id, Map.of("id", id.toString()));
	}

	static CompositionNotFoundException forId(UUID id) {
		return new CompositionNotFoundException(id);
	}

}
