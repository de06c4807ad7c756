package dev.patchbay.shared;

import java.util.Map;

/**
 * Writes the problem a background failure (a composition, an evaluation, a sweep) is
 * stored as, so that a later reader gets it exactly as the API would have answered;
 * implemented by the API's problem catalogue, which modules below the API cannot name.
 */
public interface ProblemBodies {

	/**
	 * RFC 9457 problem details of a failure: a domain problem as itself, with its typed
	 * fields; anything else (a bug, an I/O error) as the work's own failure.
	 * @param failure the kind of the work's own failure, e.g.
	 * {@link ProblemKind#COMPOSITION_FAILED}
	 */
	Map<String, Object> of(Exception ex, ProblemKind failure);

}
