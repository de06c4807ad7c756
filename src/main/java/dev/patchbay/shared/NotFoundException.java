package dev.patchbay.shared;

import java.util.Map;

/**
 * An id names nothing that exists.
 */
public class NotFoundException extends PatchbayException {

	public NotFoundException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(kind, detail, properties);
	}

}
