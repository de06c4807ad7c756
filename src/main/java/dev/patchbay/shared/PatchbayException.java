package dev.patchbay.shared;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Base of every domain exception: the kind of problem and typed details, facts only.
 * Subclasses say which family of problem it is; type URIs, titles and statuses live only
 * in the api module's problem catalogue.
 */
public abstract class PatchbayException extends RuntimeException {

	private final ProblemKind kind;

	private final Map<String, Object> properties;

	protected PatchbayException(ProblemKind kind, String detail, Map<String, ?> properties) {
		super(detail);
		this.kind = kind;
		this.properties = Collections.unmodifiableMap(new LinkedHashMap<>(properties));
	}

	public ProblemKind kind() {
		return this.kind;
	}

	/**
	 * Extension fields naming what is at fault, e.g. {@code tensor} or {@code field}.
	 */
	public Map<String, Object> properties() {
		return this.properties;
	}

}
