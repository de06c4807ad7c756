package dev.patchbay.inference;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.PatchbayException;
import dev.patchbay.shared.ProblemKind;

/**
 * An evaluation's replica stopped before it finished, and the evaluation was stored
 * without the request another replica would need to run it again.
 */
final class EvaluationAbandonedException extends PatchbayException {

	private EvaluationAbandonedException(UUID id) {
		super(ProblemKind.EVALUATION_ABANDONED, "the replica running evaluation " + id
				+ " stopped before it finished, and it was stored without its request, so no other replica can run"
				+ " it; post it again", Map.of("id", id.toString()));
	}

	static EvaluationAbandonedException forId(UUID id) {
		return new EvaluationAbandonedException(id);
	}

}
