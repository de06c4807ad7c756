package dev.patchbay.composition;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Where a composition is in its life: queued, computing, done with a cached result, or
 * failed.
 */
public enum CompositionStatus {

	PENDING, RUNNING, READY, FAILED;

	@JsonValue
	public String wireName() {
		return name().toLowerCase();
	}

}
