package dev.patchbay.shared;

import java.util.Map;

/**
 * The request is well formed but impossible, e.g. shapes that cannot be combined.
 */
public class UnprocessableException extends PatchbayException {

	public UnprocessableException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(kind, detail, properties);
	}

}
