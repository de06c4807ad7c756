package dev.patchbay.inference;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * No sweep has the requested id.
 */
final class SweepNotFoundException extends NotFoundException {

	private SweepNotFoundException(UUID id) {
		super(ProblemKind.SWEEP_NOT_FOUND, "no sweep has id " + id, Map.of("id", id.toString()));
	}

	static SweepNotFoundException forId(UUID id) {
		return new SweepNotFoundException(id);
	}

}
