package dev.patchbay.shared;

import java.util.Map;

/**
 * The input is malformed: it is rejected before anything is stored.
 */
public class InvalidInputException extends PatchbayException {

	public InvalidInputException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(kind, detail, properties);
	}

}
