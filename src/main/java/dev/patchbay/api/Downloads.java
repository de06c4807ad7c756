package dev.patchbay.api;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.ServletOutputStream;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.catalina.connector.ClientAbortException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.http.ContentDisposition;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.stereotype.Component;
import org.springframework.web.ErrorResponseException;

import dev.patchbay.shared.ProblemKind;
import dev.patchbay.storage.SegmentedFile;

/**
 * Sends downloads without holding a request thread, and without any limit on how long
 * they take: a client that stops reading is disconnected by the connector's write timeout
 * ({@code patchbay.api.download-idle-timeout}) instead. A range that lies in one stored
 * file goes out through Tomcat's sendfile ({@code FileChannel.transferTo} onto the
 * socket); anything else is copied on a thread of its own.
 */
@Component
class Downloads implements DisposableBean {

	private static final Logger logger = LoggerFactory.getLogger(Downloads.class);

	// Tomcat's request attributes for sendfile: the connector sets the first when it can,
	// and the handler names the file and the byte range with the other three.
	static final String SENDFILE_SUPPORT = "org.apache.tomcat.sendfile.support";

	static final String SENDFILE_FILENAME = "org.apache.tomcat.sendfile.filename";

	static final String SENDFILE_START = "org.apache.tomcat.sendfile.start";

	static final String SENDFILE_END = "org.apache.tomcat.sendfile.end";

	/**
	 * One thread per streamed download, created on demand: a pool of fixed size would let
	 * a few stalled readers block every other download. The connector's connection limit
	 * bounds them, and the write timeout ends those whose client stopped reading.
	 */
	private final ExecutorService streams = Executors.newCachedThreadPool(new DownloadThreads());

	// How many bodies went by sendfile and how many were copied: a falling sendfile share
	// points at ranges that cross files or a connector without sendfile.
	private final Counter sendfiles;

	private final Counter streamed;

	Downloads(MeterRegistry meters) {
		this.sendfiles = counter(meters, "sendfile");
		this.streamed = counter(meters, "stream");
	}

	private static Counter counter(MeterRegistry meters, String transfer) {
		return Counter.builder("patchbay.downloads")
			.description("Download bodies started, by how the bytes reach the socket")
			.tag("transfer", transfer)
			.register(meters);
	}

	/**
	 * Sends a file with a strong {@code ETag}, honouring {@code If-Match} (412),
	 * {@code If-None-Match}, and a single {@code Range} with {@code If-Range}, calling
	 * {@code done} once the source is no longer needed (its pins may go): when the body
	 * has been copied, or at once when there is none or Tomcat's sendfile takes over.
	 * Sendfile opens the file as soon as the handler returns, and an open file survives
	 * its deletion, so only that instant is unguarded.
	 */
	void file(SegmentedFile file, String etag, String filename, HttpServletRequest request,
			HttpServletResponse response, Runnable done) {
		try {
			send(file, etag, filename, request, response, done);
		}
		catch (RuntimeException ex) {
			done.run();
			throw ex;
		}
	}

	private void send(SegmentedFile file, String etag, String filename, HttpServletRequest request,
			HttpServletResponse response, Runnable done) {
		String quotedEtag = quote(etag);
		long size = file.size();
		// 304 for a matching If-None-Match, 416 for an unsatisfiable range, else 200 or
		// 206 with the range to send; the status and headers are set either way (a 412
		// is thrown).
		ByteRangeDownload range = rangeHeaders(size, quotedEtag, filename, request, response);
		if (!range.hasBody()) {
			done.run();
			return;
		}
		long from = range.from();
		long to = range.to();
		response.setContentType(MediaType.APPLICATION_OCTET_STREAM_VALUE);
		response.setContentLengthLong(to - from);
		// HEAD: the length and headers are those GET would send, so a client can plan its
		// ranged requests without a body.
		if (!hasBody(request)) {
			done.run();
			return;
		}
		SegmentedFile.FileRegion region = Boolean.TRUE.equals(request.getAttribute(SENDFILE_SUPPORT))
				// Sendfile only takes one path and offset; a range that spans two stored
				// segments is copied instead.
				? file.regionOf(from, to).orElse(null) : null;
		if (region != null) {
			// Tomcat sends the bytes once the handler returns, from its poller, so no
			// thread waits on a slow client; a file shorter than recorded closes the
			// connection.
			request.setAttribute(SENDFILE_FILENAME, region.path().toAbsolutePath().toString());
			request.setAttribute(SENDFILE_START, region.offset());
			request.setAttribute(SENDFILE_END, region.offset() + region.length());
			this.sendfiles.increment();
			done.run();
			return;
		}
		stream(request, to - from, (out) -> file.transferTo(out, from, to), done);
	}

	/**
	 * Sends a body that is written as it is produced, such as a composition still being
	 * computed: a whole file of known size, without ranges.
	 */
	void live(Body body, long size, String etag, String filename, HttpServletRequest request,
			HttpServletResponse response, Runnable done) {
		try {
			sendLive(body, size, etag, filename, request, response, done);
		}
		catch (RuntimeException ex) {
			done.run();
			throw ex;
		}
	}

	private void sendLive(Body body, long size, String etag, String filename, HttpServletRequest request,
			HttpServletResponse response, Runnable done) {
		// Always 200 with the whole length: the file is still being written, so no range
		// of it can be promised yet.
		response.setStatus(HttpStatus.OK.value());
		response.setHeader(HttpHeaders.ETAG, quote(etag));
		response.setHeader(HttpHeaders.CONTENT_DISPOSITION, attachment(filename));
		response.setContentType(MediaType.APPLICATION_OCTET_STREAM_VALUE);
		response.setContentLengthLong(size);
		if (hasBody(request)) {
			stream(request, size, body, done);
		}
		else {
			done.run();
		}
	}

	/**
	 * Sends a file of known size whose bytes may not exist yet (a shard of a composition
	 * still computing), honouring the same conditions and {@code Range} as a file: the
	 * body opens its source on a download thread, so no request thread waits for it.
	 */
	void deferred(long size, String etag, String filename, RangedBody body, HttpServletRequest request,
			HttpServletResponse response) {
		String quotedEtag = quote(etag);
		ByteRangeDownload range = rangeHeaders(size, quotedEtag, filename, request, response);
		if (!range.hasBody()) {
			return;
		}
		response.setContentType(MediaType.APPLICATION_OCTET_STREAM_VALUE);
		response.setContentLengthLong(range.to() - range.from());
		if (hasBody(request)) {
			// Nothing is pinned here: the body takes its own pins when it opens its
			// source.
			stream(request, range.to() - range.from(), (out) -> body.writeTo(out, range.from(), range.to()), () -> {
			});
		}
	}

	/**
	 * Sends a body of unknown length, chunked, such as a tar stream of a folder.
	 */
	void unsized(Body body, String contentType, String filename, HttpServletRequest request,
			HttpServletResponse response) {
		response.setStatus(HttpStatus.OK.value());
		response.setHeader(HttpHeaders.CONTENT_DISPOSITION, attachment(filename));
		response.setContentType(contentType);
		if (hasBody(request)) {
			stream(request, -1, body, () -> {
			});
		}
	}

	/** Writes bytes [from, to) of a body. */
	@FunctionalInterface
	interface RangedBody {

		void writeTo(OutputStream out, long from, long to) throws IOException;

	}

	/** Writes a response body. */
	@FunctionalInterface
	interface Body {

		void writeTo(OutputStream out) throws IOException;

	}

	/**
	 * Copies on a download thread. No async timeout applies; the write timeout ends a
	 * stalled copy with an exception, and any failure closes the connection at once.
	 */
	private void stream(HttpServletRequest request, long length, Body body, Runnable done) {
		// Taken now: ConnectionAbort must be asked before the request completes.
		Consumer<Throwable> abort = ConnectionAbort.of(request);
		// The container's own request and response: Spring MVC's wrappers are not made
		// for use after the handler returns.
		AsyncContext async = request.startAsync();
		// 0 is no timeout: a multi-gigabyte download may take hours, and the connector's
		// write timeout already ends one whose client stopped reading.
		async.setTimeout(0);
		// The request id in the MDC goes with the copy, so its log lines name the
		// request.
		Map<String, String> logContext = MDC.getCopyOfContextMap();
		this.streamed.increment();
		try {
			this.streams.execute(() -> {
				try {
					copy(async, length, body, abort, logContext);
				}
				finally {
					done.run();
				}
			});
		}
		catch (RejectedExecutionException ex) {
			// Only while shutting down.
			done.run();
			abort.accept(ex);
			async.complete();
		}
	}

	private static void copy(AsyncContext async, long length, Body body, Consumer<Throwable> abort,
			Map<String, String> logContext) {
		if (logContext != null) {
			MDC.setContextMap(logContext);
		}
		try {
			ServletOutputStream target = async.getResponse().getOutputStream();
			Counting out = new Counting(target);
			body.writeTo(out);
			// Content-Length was promised; ending cleanly with fewer bytes would let the
			// client take a truncated file for a whole one.
			if (length >= 0 && out.count != length) {
				throw new IOException("body has " + out.count + " bytes, not the " + length + " announced");
			}
			target.flush();
		}
		// The client's choice, not our failure: logged at info, without a stack trace.
		catch (ClientAbortException ex) {
			logger.info("Download ended early: the client disconnected or stopped reading ({})", ex.getMessage());
			abort.accept(ex);
		}
		catch (IOException | RuntimeException ex) {
			logger.warn("Download failed after its headers were sent; closing the connection", ex);
			abort.accept(ex);
		}
		finally {
			complete(async);
			MDC.clear();
		}
	}

	private static void complete(AsyncContext async) {
		try {
			async.complete();
		}
		catch (IllegalStateException ex) {
			// The container already ended the request after the connection was closed.
			logger.debug("Download request already ended", ex);
		}
	}

	/**
	 * Decides the range of a download and sets its status and headers: the ETag, the
	 * ranges accepted, the file name and, for a partial answer, the Content-Range. A
	 * failed If-Match is thrown, as a 412 problem.
	 */
	private static ByteRangeDownload rangeHeaders(long size, String quotedEtag, String filename,
			HttpServletRequest request, HttpServletResponse response) {
		ByteRangeDownload range = ByteRangeDownload.of(size, quotedEtag,
				new ByteRangeDownload.Conditions(request.getHeader(HttpHeaders.RANGE),
						request.getHeader(HttpHeaders.IF_RANGE), list(request, HttpHeaders.IF_MATCH),
						list(request, HttpHeaders.IF_NONE_MATCH)));
		if (range.status() == HttpStatus.PRECONDITION_FAILED) {
			// Thrown before any header is set, so the problem handler answers alone.
			throw new ErrorResponseException(HttpStatus.PRECONDITION_FAILED,
					ProblemHandler.problem(ProblemKind.PRECONDITION_FAILED,
							"If-Match names no current version of the file; its ETag is " + quotedEtag),
					null);
		}
		response.setStatus(range.status().value());
		response.setHeader(HttpHeaders.ETAG, quotedEtag);
		response.setHeader(HttpHeaders.ACCEPT_RANGES, "bytes");
		response.setHeader(HttpHeaders.CONTENT_DISPOSITION, attachment(filename));
		if (range.contentRange() != null) {
			response.setHeader(HttpHeaders.CONTENT_RANGE, range.contentRange());
		}
		return range;
	}

	/** A list header's field lines joined into one list, or null when it is absent. */
	private static String list(HttpServletRequest request, String name) {
		List<String> lines = Collections.list(request.getHeaders(name));
		return lines.isEmpty() ? null : String.join(", ", lines);
	}

	/** HEAD gets the headers only; the body would be discarded anyway. */
	private static boolean hasBody(HttpServletRequest request) {
		return !"HEAD".equals(request.getMethod());
	}

	private static String quote(String etag) {
		return "\"" + etag + "\"";
	}

	// ContentDisposition encodes a non-ASCII name as RFC 5987 filename*.
	private static String attachment(String filename) {
		return ContentDisposition.attachment().filename(filename).build().toString();
	}

	@Override
	// Ongoing copies are interrupted; their connections close with the application.
	public void destroy() {
		this.streams.shutdownNow();
	}

	/** Counts the bytes a body writes, so that a short one is never a clean end. */
	private static final class Counting extends FilterOutputStream {

		private long count;

		Counting(OutputStream out) {
			super(out);
		}

		@Override
		public void write(int b) throws IOException {
			this.out.write(b);
			this.count++;
		}

		@Override
		public void write(byte[] b, int off, int len) throws IOException {
			this.out.write(b, off, len);
			this.count += len;
		}

	}

	private static final class DownloadThreads implements ThreadFactory {

		private final AtomicInteger count = new AtomicInteger();

		@Override
		public Thread newThread(Runnable task) {
			Thread thread = new Thread(task, "download-" + this.count.incrementAndGet());
			thread.setDaemon(true);
			return thread;
		}

	}

}
