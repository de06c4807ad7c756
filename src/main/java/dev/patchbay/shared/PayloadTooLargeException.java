package dev.patchbay.shared;

import java.util.Map;

/**
 * The input exceeds a configured size limit.
 */
public class PayloadTooLargeException extends PatchbayException {

	public PayloadTooLargeException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(kind, detail, properties);
	}

}
