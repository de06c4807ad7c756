package dev.patchbay.composition;

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

	/** The lowercase name the API, events and problem details use. */
	public String wireName() {
		return name().toLowerCase();
	}

}
