package dev.patchbay.security;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * No API key has the requested id.
 */
final class ApiKeyNotFoundException extends NotFoundException {

	private ApiKeyNotFoundException(UUID id) {
		super(ProblemKind.KEY_NOT_FOUND, "no API key has id " + id, Map.of("id", id.toString()));
	}

	static ApiKeyNotFoundException forId(UUID id) {
		return new ApiKeyNotFoundException(id);
	}

}
