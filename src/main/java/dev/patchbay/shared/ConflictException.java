package dev.patchbay.shared;

import java.util.Map;

/**
 * The request conflicts with the current state, e.g. a delete of something still
 * referenced.
 */
public class ConflictException extends PatchbayException {

	public ConflictException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(kind, detail, properties);
	}

}
