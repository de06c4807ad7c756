package dev.patchbay.api;

import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.springframework.http.ETag;
import org.springframework.http.HttpStatus;

/**
 * What a request for a file of known size and strong {@code ETag} gets, by RFC 9110's
 * conditional requests: {@code If-Match} (412 unless a tag matches strongly),
 * {@code If-None-Match} (304 when a tag matches weakly) and a single
 * {@code Range: bytes=…} (206, or 416 when unsatisfiable) unless {@code If-Range} names
 * another version. As RFC 9110 allows, a Range this server does not serve (another unit,
 * several ranges, an invalid range) is ignored and the whole file is sent.
 *
 * @param status the response status
 * @param from the first byte to send
 * @param to the byte after the last one to send
 * @param contentRange the {@code Content-Range} header, or null
 */
record ByteRangeDownload(HttpStatus status, long from, long to, String contentRange) {

	private static final String UNIT = "bytes=";

	private static final Pattern SPEC = Pattern.compile("[ \\t]*(\\d*)[ \\t]*-[ \\t]*(\\d*)[ \\t]*");

	static ByteRangeDownload of(long size, String quotedEtag, Conditions conditions) {
		ETag current = ETag.create(quotedEtag);
		// RFC 9110 §13.2.2's order: If-Match, then If-None-Match, then Range with
		// If-Range. The dates' headers are never evaluated, as no Last-Modified is sent.
		if (conditions.ifMatch() != null && !anyMatches(conditions.ifMatch(), current, true)) {
			return new ByteRangeDownload(HttpStatus.PRECONDITION_FAILED, 0, 0, null);
		}
		if (conditions.ifNoneMatch() != null && anyMatches(conditions.ifNoneMatch(), current, false)) {
			return new ByteRangeDownload(HttpStatus.NOT_MODIFIED, 0, 0, null);
		}
		Matcher spec = isCurrent(conditions.ifRange(), quotedEtag) ? singleByteRange(conditions.range()) : null;
		if (spec == null) {
			return new ByteRangeDownload(HttpStatus.OK, 0, size, null);
		}
		long[] bounds = bounds(spec, size);
		if (bounds == null) {
			return new ByteRangeDownload(HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE, 0, 0, "bytes */" + size);
		}
		return new ByteRangeDownload(HttpStatus.PARTIAL_CONTENT, bounds[0], bounds[1],
				"bytes " + bounds[0] + "-" + (bounds[1] - 1) + "/" + size);
	}

	/**
	 * Whether a list of entity tags names the current one ({@code *}: any, and the file
	 * exists), by Spring's parser and comparison, the ones its own
	 * {@code checkNotModified} uses: strong for If-Match, weak for If-None-Match.
	 */
	private static boolean anyMatches(String tags, ETag current, boolean strong) {
		for (ETag tag : ETag.parse(tags)) {
			if (tag.isWildcard() || tag.compare(current, strong)) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Whether a Range still applies: without If-Range it does; with one, only if it is
	 * the current strong tag itself, which for a strong tag is what strong comparison
	 * asks. A weak tag never matches, and neither does a date, since no Last-Modified is
	 * sent; either way the whole file goes out instead of a piece of another version.
	 */
	private static boolean isCurrent(String ifRange, String quotedEtag) {
		return ifRange == null || ifRange.strip().equals(quotedEtag);
	}

	boolean hasBody() {
		return this.status == HttpStatus.OK || this.status == HttpStatus.PARTIAL_CONTENT;
	}

	/**
	 * The one valid byte range asked for, or null when the header is absent or is to be
	 * ignored: another unit (which RFC 9110 requires us to ignore), several ranges (which
	 * we may serve whole instead of multipart) or an invalid range.
	 */
	private static Matcher singleByteRange(String range) {
		if (range == null) {
			return null;
		}
		String value = range.strip();
		if (!value.toLowerCase(Locale.ROOT).startsWith(UNIT)) {
			return null;
		}
		Matcher spec = SPEC.matcher(value.substring(UNIT.length()));
		if (!spec.matches() || (spec.group(1).isEmpty() && spec.group(2).isEmpty())) {
			return null;
		}
		if (!spec.group(1).isEmpty() && !spec.group(2).isEmpty() && position(spec.group(2)) < position(spec.group(1))) {
			// last-pos before first-pos makes the range invalid, not unsatisfiable.
			return null;
		}
		return spec;
	}

	/** Returns [from, to) for a satisfiable range, or null. */
	private static long[] bounds(Matcher spec, long size) {
		String first = spec.group(1);
		String last = spec.group(2);
		if (size == 0) {
			return null;
		}
		if (first.isEmpty()) {
			long suffix = position(last);
			return (suffix == 0) ? null : new long[] { Math.max(0, size - suffix), size };
		}
		long from = position(first);
		if (from >= size) {
			return null;
		}
		long to = (last.isEmpty() || position(last) >= size - 1) ? size : position(last) + 1;
		return new long[] { from, to };
	}

	/**
	 * A position or length; one beyond 64 bits is beyond any file, so it saturates: a
	 * last-pos that large means "to the end".
	 */
	private static long position(String digits) {
		try {
			return Long.parseLong(digits);
		}
		catch (NumberFormatException ex) {
			return Long.MAX_VALUE;
		}
	}

	/**
	 * The headers a download answers to, each null when absent; a list header sent on
	 * several lines is joined into one list, as RFC 9110 reads it.
	 *
	 * @param range {@code Range}
	 * @param ifRange {@code If-Range}
	 * @param ifMatch {@code If-Match}
	 * @param ifNoneMatch {@code If-None-Match}
	 */
	record Conditions(String range, String ifRange, String ifMatch, String ifNoneMatch) {
	}

}
