package dev.patchbay.registry;

import java.util.Map;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * An upload is malformed as a whole: a part is missing, duplicated or of the wrong kind.
 */
public class UploadRejectedException extends InvalidInputException {

	private UploadRejectedException(String detail, String field) {
		super(ProblemKind.INVALID_UPLOAD, detail, Map.of("field", field));
	}

	public static UploadRejectedException forField(String field, String reason) {
		return new UploadRejectedException(field + ": " + reason, field);
	}

}
