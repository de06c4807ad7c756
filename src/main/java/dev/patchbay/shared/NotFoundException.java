package dev.patchbay.shared;

import java.util.Map;

/**
 * An id names nothing that exists.
 */
public class NotFoundException extends PatchbayException {

	public NotFoundException(String type, String title, String detail, Map<String, ?> properties) {
		super(type, title, detail, properties);
	}

}
