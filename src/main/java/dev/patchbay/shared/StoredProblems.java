package dev.patchbay.shared;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one place that names problem types as URIs, for the API's answers and for the
 * problems that background work (a composition, an evaluation, a sweep) stores for later
 * readers, so that a stored failure reads exactly as the API would have answered it.
 */
public final class StoredProblems {

	/** Every problem type is this base and the problem's slug. */
	public static final String TYPE_BASE = "https://patchbay.dev/problems/";

	private StoredProblems() {
	}

	/**
	 * RFC 9457 problem details of a failure: a domain problem as itself, with its typed
	 * fields; anything else (a bug, an I/O error) as the work's own failure type.
	 * @param work what failed, e.g. {@code composition}: the fallback type is
	 * {@code <work>-failed}
	 */
	public static Map<String, Object> of(Exception ex, String work) {
		Map<String, Object> problem = new LinkedHashMap<>();
		if (ex instanceof PatchbayException domain) {
			problem.put("type", TYPE_BASE + domain.type());
			problem.put("title", domain.title());
			problem.put("detail", String.valueOf(domain.getMessage()));
			problem.putAll(domain.properties());
		}
		else {
			problem.put("type", TYPE_BASE + work + "-failed");
			problem.put("title", Character.toUpperCase(work.charAt(0)) + work.substring(1) + " failed");
			problem.put("detail", "the " + work + " failed: " + ex.getMessage());
		}
		return problem;
	}

}
