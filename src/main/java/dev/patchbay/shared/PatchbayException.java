package dev.patchbay.shared;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Base of every domain exception: a stable problem type, a fixed title and typed details.
 * Subclasses say which family of problem it is; the HTTP mapping lives only in the api
 * module.
 */
public abstract class PatchbayException extends RuntimeException {

	private final String type;

	private final String title;

	private final Map<String, Object> properties;

	protected PatchbayException(String type, String title, String detail, Map<String, ?> properties) {
		super(detail);
		this.type = type;
		this.title = title;
		this.properties = Collections.unmodifiableMap(new LinkedHashMap<>(properties));
	}

	/**
	 * Stable, URL-safe name of the problem kind, e.g. {@code invalid-safetensors}.
	 */
	public String type() {
		return this.type;
	}

	public String title() {
		return this.title;
	}

	/**
	 * Extension fields naming what is at fault, e.g. {@code tensor} or {@code field}.
	 */
	public Map<String, Object> properties() {
		return this.properties;
	}

}
