package dev.patchbay.inference;

import java.util.Map;

import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;

/** A well-formed sweep whose grid has more points than configuration allows. */
public class SweepTooLargeException extends UnprocessableException {

	private SweepTooLargeException(long points, int limit) {
		super(ProblemKind.SWEEP_TOO_LARGE,
				"terms: the weight lists make " + points + " combinations, more than the limit of " + limit
						+ " (patchbay.inference.max-sweep-points)",
				Map.of("field", "terms", "points", points, "limit", limit, "property",
						"patchbay.inference.max-sweep-points"));
	}

	public static SweepTooLargeException of(long points, int limit) {
		return new SweepTooLargeException(points, limit);
	}

}
