package dev.patchbay.shared;

import java.time.Duration;
import java.util.Map;

/**
 * A bounded queue of work is full: the request may succeed if repeated after
 * {@link #retryAfter()}. Nothing of it was kept.
 */
public class ServiceBusyException extends PatchbayException {

	private final Duration retryAfter;

	public ServiceBusyException(ProblemKind kind, String detail, Duration retryAfter, Map<String, ?> properties) {
		super(kind, detail, properties);
		this.retryAfter = retryAfter;
	}

	public Duration retryAfter() {
		return this.retryAfter;
	}

}
