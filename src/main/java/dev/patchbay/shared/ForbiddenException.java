package dev.patchbay.shared;

import java.util.Map;

/**
 * The caller is known but lacks the permission the request needs.
 */
public class ForbiddenException extends PatchbayException {

	public ForbiddenException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(kind, detail, properties);
	}

}
