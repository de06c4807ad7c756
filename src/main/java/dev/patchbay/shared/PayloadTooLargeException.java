package dev.patchbay.shared;

import java.util.Map;

/**
 * The input exceeds a configured size limit.
 */
public class PayloadTooLargeException extends PatchbayException {

	public PayloadTooLargeException(String type, String title, String detail, Map<String, ?> properties) {
		super(type, title, detail, properties);
	}

}
