package dev.patchbay.inference;

import java.util.Map;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/** A sweep request that is malformed: a field missing, out of range or unknown. */
public class SweepInvalidException extends InvalidInputException {

	private SweepInvalidException(String field, String detail) {
		super(ProblemKind.INVALID_SWEEP, detail, Map.of("field", field));
	}

	public static SweepInvalidException forField(String field, String reason) {
		return new SweepInvalidException(field, field + ": " + reason);
	}

}
