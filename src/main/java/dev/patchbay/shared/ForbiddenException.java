package dev.patchbay.shared;

import java.util.Map;

/**
 * The caller is known but lacks the permission the request needs.
 */
public class ForbiddenException extends PatchbayException {

	public ForbiddenException(String type, String title, String detail, Map<String, ?> properties) {
		super(type, title, detail, properties);
	}

}
