package dev.patchbay.api;

import java.io.IOException;
import java.util.Map;
import java.util.UUID;

import jakarta.servlet.http.HttpServletRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;
import org.apache.tomcat.util.http.fileupload.impl.FileCountLimitExceededException;
import org.apache.tomcat.util.http.fileupload.impl.FileSizeLimitExceededException;
import tools.jackson.core.JacksonException;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.beans.TypeMismatchException;
import org.springframework.http.ResponseEntity;
import org.springframework.http.converter.HttpMessageNotReadableException;
import org.springframework.util.ClassUtils;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.ServletWebRequest;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.method.annotation.MethodArgumentTypeMismatchException;
import org.springframework.web.multipart.MaxUploadSizeExceededException;
import org.springframework.web.multipart.MultipartException;
import org.springframework.web.multipart.support.MissingServletRequestPartException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

import dev.patchbay.shared.PatchbayException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.ServiceBusyException;
import dev.patchbay.storage.StorageProperties;

/**
 * The one place where failures become HTTP: RFC 9457 problem details with the type, title
 * and status the {@link ProblemCatalogue} gives the problem's kind, the message as detail
 * and typed extension fields.
 */
@RestControllerAdvice
class ProblemHandler extends ResponseEntityExceptionHandler {

	private static final Logger logger = LoggerFactory.getLogger(ProblemHandler.class);

	/** What the JVM reports for ENOSPC; no exception type of its own says so. */
	private static final String DISK_FULL = "No space left on device";

	private final long maxUploadBytes;

	ProblemHandler(StorageProperties storage) {
		this.maxUploadBytes = storage.maxUploadSize().toBytes();
	}

	@ExceptionHandler(PatchbayException.class)
	ResponseEntity<?> handleDomain(PatchbayException ex, HttpServletRequest request) {
		HttpStatus status = ProblemCatalogue.entry(ex.kind()).status();
		if (KServeController.isV2(request.getRequestURI())) {
			// The Open Inference Protocol defines its own error body; shape errors are
			// 400 there.
			HttpStatus v2Status = (status == HttpStatus.UNPROCESSABLE_CONTENT) ? HttpStatus.BAD_REQUEST : status;
			return headers(ResponseEntity.status(v2Status), status, ex).contentType(MediaType.APPLICATION_JSON)
				.body(Map.of("error", ex.getMessage()));
		}
		ProblemDetail problem = problem(ex.kind(), ex.getMessage());
		ex.properties().forEach(problem::setProperty);
		return headers(ResponseEntity.status(problem.getStatus()), status, ex)
			.contentType(MediaType.APPLICATION_PROBLEM_JSON)
			.body(problem);
	}

	/** The challenge of a 401, and when to come back after a 503. */
	private static ResponseEntity.BodyBuilder headers(ResponseEntity.BodyBuilder response, HttpStatus status,
			PatchbayException ex) {
		if (status == HttpStatus.UNAUTHORIZED) {
			response.header(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"patchbay\"");
		}
		if (ex instanceof ServiceBusyException busy) {
			response.header(HttpHeaders.RETRY_AFTER, Long.toString(Math.max(1, busy.retryAfter().toSeconds())));
		}
		return response;
	}

	/**
	 * A body Spring could not hand to Tomcat's multipart parser (no boundary, a broken
	 * part, too many parts); size limits have their own handler.
	 */
	@ExceptionHandler(MultipartException.class)
	ResponseEntity<?> handleMultipart(MultipartException ex, HttpServletRequest request) {
		FileCountLimitExceededException parts = causeOf(ex, FileCountLimitExceededException.class);
		if (parts != null) {
			return invalid(request, ProblemKind.INVALID_UPLOAD, new JsonErrors.Located("body",
					"has more parts than the limit of " + parts.getLimit() + " (server.tomcat.max-part-count)"));
		}
		if (isDiskFull(ex)) {
			return insufficientStorage(ex);
		}
		String cause = String.valueOf(deepest(ex).getMessage());
		String reason = cause.contains("boundary") ? "is multipart/form-data without a boundary"
				: "is not a readable multipart/form-data body";
		return invalid(request, ProblemKind.INVALID_UPLOAD, new JsonErrors.Located("body", reason));
	}

	/** Malformed JSON in a body that is read as a stream (KServe v2 inference). */
	@ExceptionHandler(JacksonException.class)
	ResponseEntity<?> handleJson(JacksonException ex, HttpServletRequest request) {
		return invalid(request, ProblemKind.INVALID_REQUEST_BODY, JsonErrors.locate(ex, "body"));
	}

	@ExceptionHandler(Exception.class)
	ResponseEntity<?> handleUnexpected(Exception ex, HttpServletRequest request) {
		if (isDiskFull(ex)) {
			return insufficientStorage(ex);
		}
		logger.error("Unexpected failure", ex);
		String detail = "the server failed to complete the request; it has been logged";
		if (KServeController.isV2(request.getRequestURI())) {
			return ResponseEntity.internalServerError()
				.contentType(MediaType.APPLICATION_JSON)
				.body(Map.of("error", detail));
		}
		ProblemDetail problem = problem(ProblemKind.INTERNAL_ERROR, detail);
		return ResponseEntity.internalServerError().body(problem);
	}

	@Override
	protected ResponseEntity<Object> handleMissingServletRequestPart(MissingServletRequestPartException ex,
			HttpHeaders headers, HttpStatusCode status, WebRequest request) {
		ProblemDetail problem = problem(ProblemKind.INVALID_UPLOAD, ex.getRequestPartName() + ": is required");
		problem.setProperty("field", ex.getRequestPartName());
		return ResponseEntity.badRequest().body(problem);
	}

	/**
	 * Tomcat stops a part at {@code patchbay.storage.max-upload-size}; Spring reports the
	 * limit as -1, so the configured one is stated instead.
	 */
	@Override
	protected ResponseEntity<Object> handleMaxUploadSizeExceededException(MaxUploadSizeExceededException ex,
			HttpHeaders headers, HttpStatusCode status, WebRequest request) {
		FileSizeLimitExceededException part = causeOf(ex, FileSizeLimitExceededException.class);
		long limit = (ex.getMaxUploadSize() > 0) ? ex.getMaxUploadSize()
				: (part != null && part.getPermittedSize() > 0) ? part.getPermittedSize() : this.maxUploadBytes;
		String field = (part != null && part.getFieldName() != null) ? part.getFieldName() : "body";
		ProblemDetail problem = problem(ProblemKind.UPLOAD_TOO_LARGE,
				field + ": exceeds the limit of " + limit + " bytes (patchbay.storage.max-upload-size)");
		problem.setProperty("field", field);
		problem.setProperty("limitBytes", limit);
		return ResponseEntity.status(HttpStatus.PAYLOAD_TOO_LARGE).body(problem);
	}

	/**
	 * Malformed JSON and JSON of the wrong shape, named by the path of the field at
	 * fault.
	 */
	@Override
	protected ResponseEntity<Object> handleHttpMessageNotReadable(HttpMessageNotReadableException ex,
			HttpHeaders headers, HttpStatusCode status, WebRequest request) {
		JacksonException json = causeOf(ex, JacksonException.class);
		JsonErrors.Located located = (json != null) ? JsonErrors.locate(json, "body")
				: new JsonErrors.Located("body", String.valueOf(ex.getMessage()).startsWith("Required request body")
						? "is required" : "could not be read");
		return invalid(((ServletWebRequest) request).getRequest(), ProblemKind.INVALID_REQUEST_BODY, located);
	}

	@Override
	protected ResponseEntity<Object> handleTypeMismatch(TypeMismatchException ex, HttpHeaders headers,
			HttpStatusCode status, WebRequest request) {
		String field = (ex instanceof MethodArgumentTypeMismatchException argument) ? argument.getName()
				: ex.getPropertyName();
		String expected = (ex.getRequiredType() == UUID.class) ? "a UUID"
				: (ex.getRequiredType() != null
						&& Number.class.isAssignableFrom(ClassUtils.resolvePrimitiveIfNecessary(ex.getRequiredType())))
								? "a number" : "of another type";
		return invalid(((ServletWebRequest) request).getRequest(), ProblemKind.INVALID_PARAMETER,
				new JsonErrors.Located(String.valueOf(field), "must be " + expected));
	}

	@SuppressWarnings("unchecked")
	private static <T extends ResponseEntity<?>> T invalid(HttpServletRequest request, ProblemKind kind,
			JsonErrors.Located located) {
		if (KServeController.isV2(request.getRequestURI())) {
			return (T) ResponseEntity.badRequest()
				.contentType(MediaType.APPLICATION_JSON)
				.body(Map.of("error", located.message()));
		}
		ProblemDetail problem = problem(kind, located.message());
		problem.setProperty("field", located.field());
		return (T) ResponseEntity.badRequest().contentType(MediaType.APPLICATION_PROBLEM_JSON).body(problem);
	}

	private static <T extends ResponseEntity<?>> T insufficientStorage(Exception ex) {
		logger.warn("Out of disk space: {}", ex.toString());
		ProblemDetail problem = problem(ProblemKind.INSUFFICIENT_STORAGE,
				"the server has no disk space left for this request; nothing was kept");
		@SuppressWarnings("unchecked")
		T response = (T) ResponseEntity.status(HttpStatus.INSUFFICIENT_STORAGE)
			.contentType(MediaType.APPLICATION_PROBLEM_JSON)
			.body(problem);
		return response;
	}

	private static boolean isDiskFull(Throwable ex) {
		for (Throwable cause = ex; cause != null; cause = cause.getCause()) {
			if (cause instanceof IOException && cause.getMessage() != null && cause.getMessage().contains(DISK_FULL)) {
				return true;
			}
		}
		return false;
	}

	private static <T extends Throwable> T causeOf(Throwable ex, Class<T> type) {
		for (Throwable cause = ex; cause != null; cause = cause.getCause()) {
			if (type.isInstance(cause)) {
				return type.cast(cause);
			}
		}
		return null;
	}

	private static Throwable deepest(Throwable ex) {
		Throwable cause = ex;
		while (cause.getCause() != null && cause.getCause() != cause) {
			cause = cause.getCause();
		}
		return cause;
	}

	/**
	 * Spring MVC's own problems (404 without a route, 405, 415) get the request id too,
	 * or the v2 error body under /v2.
	 */
	@Override
	protected ResponseEntity<Object> handleExceptionInternal(Exception ex, Object body, HttpHeaders headers,
			HttpStatusCode statusCode, WebRequest request) {
		if (request instanceof ServletWebRequest servlet
				&& KServeController.isV2(servlet.getRequest().getRequestURI())) {
			String detail = (body instanceof ProblemDetail problem && problem.getDetail() != null) ? problem.getDetail()
					: String.valueOf(ex.getMessage());
			return ResponseEntity.status(statusCode)
				.headers(headers)
				.contentType(MediaType.APPLICATION_JSON)
				.body(Map.of("error", detail));
		}
		if (body instanceof ProblemDetail problem) {
			withRequestId(problem);
		}
		return super.handleExceptionInternal(ex, body, headers, statusCode, request);
	}

	/** Lets a user quote the one id that finds the request in the logs. */
	private static ProblemDetail withRequestId(ProblemDetail problem) {
		String requestId = MDC.get(RequestIdFilter.MDC_KEY);
		if (requestId != null) {
			problem.setProperty("requestId", requestId);
		}
		return problem;
	}

	static ProblemDetail problem(ProblemKind kind, String detail) {
		ProblemCatalogue.Entry entry = ProblemCatalogue.entry(kind);
		ProblemDetail problem = ProblemDetail.forStatusAndDetail(entry.status(), detail);
		problem.setType(entry.type());
		problem.setTitle(entry.title());
		return withRequestId(problem);
	}

}
