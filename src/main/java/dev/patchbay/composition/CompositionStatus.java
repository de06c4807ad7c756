package dev.patchbay.composition;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Where a composition is in its life: queued, computing, done with a cached result,
 * failed, or cancelled (queued or while computing; nothing of its output remains).
 */
public enum CompositionStatus {

	PENDING, RUNNING, READY, FAILED, CANCELLED;

	/** Whether it is waiting for a worker or being computed. */
	public boolean isActive() {
		return this == PENDING || this == RUNNING;
	}

	@JsonValue
	public String wireName() {
		return name().toLowerCase();
	}

}
