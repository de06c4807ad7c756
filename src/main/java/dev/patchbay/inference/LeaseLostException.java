package dev.patchbay.inference;

/**
 * Work whose row another replica claimed after this one's lease lapsed (it stalled, or
 * was cut off from the database): it stops without an outcome, which is the other
 * replica's to write.
 */
final class LeaseLostException extends RuntimeException {

	LeaseLostException() {
		super(null, null, false, false);
	}

}
