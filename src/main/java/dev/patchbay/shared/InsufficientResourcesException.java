package dev.patchbay.shared;

import java.util.Map;

/**
 * The server lacks the memory (host or device) or disk a request needs; the request was
 * valid, and nothing of it was kept.
 */
public class InsufficientResourcesException extends PatchbayException {

	public InsufficientResourcesException(ProblemKind kind, String detail, Map<String, ?> properties, Throwable cause) {
		super(kind, detail, properties);
		initCause(cause);
	}

}
