package dev.patchbay.events;

import java.util.Locale;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * Where a delivery is: still to be (re)tried, answered with a 2xx, or given up after the
 * configured attempts.
 */
public enum DeliveryStatus {

	PENDING, DELIVERED, FAILED;

	@JsonValue
	public String wireName() {
		return name().toLowerCase(Locale.ROOT);
	}

}
