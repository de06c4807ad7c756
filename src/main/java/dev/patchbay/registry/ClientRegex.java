package dev.patchbay.registry;

import java.util.regex.Matcher;

import com.google.re2j.Pattern;
import com.google.re2j.PatternSyntaxException;

/**
 * Compiles regular expressions that clients send (tensor filters, adapter target modules)
 * safely: RE2/J matches in time linear in the input, so no pattern can backtrack
 * catastrophically, and the pattern itself is bounded, because RE2/J expands counted
 * repetitions and {@code ((a{1000}){1000}){1000}} would exhaust the heap.
 */
public final class ClientRegex {

	/** Longest pattern accepted. */
	public static final int MAX_LENGTH = 1000;

	/** Largest product of the counts of a pattern's {@code {n,m}} repetitions. */
	public static final long MAX_REPETITION = 1000;

	private static final java.util.regex.Pattern COUNTED = java.util.regex.Pattern.compile("\\{(\\d+)(?:,(\\d*))?}");

	private ClientRegex() {
	}

	/**
	 * @throws IllegalArgumentException saying why the pattern is refused: too long, too
	 * many repetitions, or invalid
	 */
	public static Pattern compile(String regex) {
		if (regex == null || regex.length() > MAX_LENGTH) {
			throw new IllegalArgumentException("must be a regex of at most " + MAX_LENGTH + " characters");
		}
		// Treated as if nested, which bounds the expanded size whatever the nesting.
		long product = 1;
		Matcher counted = COUNTED.matcher(regex);
		while (counted.find()) {
			String upper = (counted.group(2) != null && !counted.group(2).isEmpty()) ? counted.group(2)
					: counted.group(1);
			long count = (upper.length() > 6) ? Long.MAX_VALUE : Math.max(1, Long.parseLong(upper));
			product = (count > MAX_REPETITION) ? count : product * count;
			if (product > MAX_REPETITION) {
				throw new IllegalArgumentException(
						"repeats more than " + MAX_REPETITION + " times in all, counting {n,m} repetitions together");
			}
		}
		try {
			return Pattern.compile(regex);
		}
		catch (PatternSyntaxException ex) {
			throw new IllegalArgumentException("is not a valid regex: " + ex.getDescription(), ex);
		}
	}

}
