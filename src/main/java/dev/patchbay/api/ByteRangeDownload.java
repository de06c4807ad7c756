package dev.patchbay.api;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.servlet.mvc.method.annotation.StreamingResponseBody;

import dev.patchbay.storage.SegmentedFile;

/**
 * Streams a file with a strong {@code ETag}, honouring {@code If-None-Match} and a single
 * {@code Range: bytes=…} (206, or 416 when unsatisfiable). Bytes are never buffered
 * whole.
 */
final class ByteRangeDownload {

	private static final Pattern RANGE = Pattern.compile("bytes=(\\d*)-(\\d*)");

	private ByteRangeDownload() {
	}

	static ResponseEntity<StreamingResponseBody> of(SegmentedFile file, String etag, String filename, String range,
			String ifNoneMatch) {
		String quotedEtag = "\"" + etag + "\"";
		long size = file.size();
		HttpHeaders headers = new HttpHeaders();
		headers.setETag(quotedEtag);
		headers.set(HttpHeaders.ACCEPT_RANGES, "bytes");
		headers
			.setContentDisposition(org.springframework.http.ContentDisposition.attachment().filename(filename).build());
		if (quotedEtag.equals(ifNoneMatch)) {
			return ResponseEntity.status(HttpStatus.NOT_MODIFIED).headers(headers).build();
		}
		long from = 0;
		long to = size;
		HttpStatus status = HttpStatus.OK;
		if (range != null) {
			Matcher matcher = RANGE.matcher(range.strip());
			long[] bounds = matcher.matches() ? bounds(matcher, size) : null;
			if (bounds == null) {
				headers.set(HttpHeaders.CONTENT_RANGE, "bytes */" + size);
				return ResponseEntity.status(HttpStatus.REQUESTED_RANGE_NOT_SATISFIABLE).headers(headers).build();
			}
			from = bounds[0];
			to = bounds[1];
			status = HttpStatus.PARTIAL_CONTENT;
			headers.set(HttpHeaders.CONTENT_RANGE, "bytes " + from + "-" + (to - 1) + "/" + size);
		}
		headers.setContentType(MediaType.APPLICATION_OCTET_STREAM);
		headers.setContentLength(to - from);
		long start = from;
		long end = to;
		return ResponseEntity.status(status).headers(headers).body((out) -> file.transferTo(out, start, end));
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
