package dev.patchbay.inference;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * No evaluation has the requested id.
 */
final class EvaluationNotFoundException extends NotFoundException {

	private EvaluationNotFoundException(UUID id) {
		super(ProblemKind.EVALUATION_NOT_FOUND, "no evaluation has id " + id, Map.of("id", id.toString()));
	}

	static EvaluationNotFoundException forId(UUID id) {
		return new EvaluationNotFoundException(id);
	}

}
