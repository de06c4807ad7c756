package dev.patchbay.shared;

import java.util.Map;

/**
 * The request carries no valid credentials.
 */
public class UnauthenticatedException extends PatchbayException {

	public UnauthenticatedException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(kind, detail, properties);
	}

}
