package dev.patchbay.engine;

/**
 * Thrown by {@link Workspace#store} when a chunk to be stored holds NaN or an infinity: a
 * merge that would produce one is refused rather than written.
 */
public final class NonFiniteException extends RuntimeException {

	NonFiniteException() {
		super("the values hold NaN or an infinity");
	}

}
