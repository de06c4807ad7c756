package dev.patchbay.inference;

import java.util.Map;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * An inference or evaluation request the model cannot take: a wrong datatype, shape or
 * name.
 */
public class InferenceInputException extends InvalidInputException {

	private InferenceInputException(String field, String detail) {
		super(ProblemKind.INVALID_INFERENCE_INPUT, detail, Map.of("field", field));
	}

	public static InferenceInputException forField(String field, String reason) {
		return new InferenceInputException(field, field + ": " + reason);
	}

}
