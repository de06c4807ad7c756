package dev.patchbay.api;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.springframework.http.HttpStatus;

/**
 * What a request for a file of known size and strong {@code ETag} gets: honouring
 * {@code If-None-Match} and a single {@code Range: bytes=…} (206, or 416 when
 * unsatisfiable).
 *
 * @param status the response status
 * @param from the first byte to send
 * @param to the byte after the last one to send
 * @param contentRange the {@code Content-Range} header, or null
 */
record ByteRangeDownload(HttpStatus status, long from, long to, String contentRange) {

	private static final Pattern RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");

	static ByteRangeDownload of(long size, String quotedEtag, String range, String ifNoneMatch) {
		if (quotedEtag.equals(ifNoneMatch)) {
			return new ByteRangeDownload(HttpStatus.NOT_MODIFIED, 0, 0, null);
		}
		if (range == null) {
			return new ByteRangeDownload(HttpStatus.OK, 0, size, null);
		}
		Matcher matcher = RANGE.matcher(range.strip());
		long[] bounds = matcher.matches() ? bounds(matcher, size) : null;
		if (bounds == null) {
			return new ByteRangeDownload(HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE, 0, 0, "bytes */" + size);
		}
		return new ByteRangeDownload(HttpStatus.PARTIAL_CONTENT, bounds[0], bounds[1],
				"bytes " + bounds[0] + "-" + (bounds[1] - 1) + "/" + size);
	}

	boolean hasBody() {
		return this.status == HttpStatus.OK || this.status == HttpStatus.PARTIAL_CONTENT;
	}

	/** Returns [from, to) for a satisfiable range, or null. */
	private static long[] bounds(Matcher matcher, long size) {
		String first = matcher.group(1);
		String last = matcher.group(2);
		try {
			if (first.isEmpty()) {
				long suffix = Long.parseLong(last);
				return (suffix == 0 || size == 0) ? null : new long[] { Math.max(0, size - suffix), size };
			}
			long from = Long.parseLong(first);
			long to = last.isEmpty() ? size : Math.min(size, Long.parseLong(last) + 1);
			return (from >= size || from >= to) ? null : new long[] { from, to };
		}
		catch (NumberFormatException ex) {
			return null;
		}
	}

}
