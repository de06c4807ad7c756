package dev.patchbay.composition;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.ConflictException;
import dev.patchbay.shared.ProblemKind;

/**
 * A composition's result was asked for, but the composition failed; its stored error says
 * why.
 */
final class CompositionFailedException extends ConflictException {

	private CompositionFailedException(UUID id) {
		super(ProblemKind.COMPOSITION_FAILED, "composition " + id + " failed; see its error",
				Map.of("compositionId", id.toString()));
	}

	static CompositionFailedException forId(UUID id) {
		return new CompositionFailedException(id);
	}

}
