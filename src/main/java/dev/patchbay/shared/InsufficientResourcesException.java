package dev.patchbay.shared;

import java.util.Map;

/**
 * The server lacks the memory (host or device) or disk a request needs; the request was
 * valid, and nothing of it was kept.
 */
public class InsufficientResourcesException extends PatchbayException {

	public InsufficientResourcesException(String type, String title, String detail, Map<String, ?> properties,
			Throwable cause) {
		super(type, title, detail, properties);
		initCause(cause);
	}

}
