package dev.patchbay.shared;

import java.util.Map;

/**
 * The request carries no valid credentials.
 */
public class UnauthenticatedException extends PatchbayException {

	public UnauthenticatedException(String type, String title, String detail, Map<String, ?> properties) {
		super(type, title, detail, properties);
	}

}
