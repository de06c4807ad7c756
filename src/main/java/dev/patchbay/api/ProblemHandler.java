package dev.patchbay.api;

import java.net.URI;
import java.util.Map;

import jakarta.servlet.http.HttpServletRequest;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.http.ProblemDetail;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.ExceptionHandler;
import org.springframework.web.bind.annotation.RestControllerAdvice;
import org.springframework.web.context.request.WebRequest;
import org.springframework.web.multipart.MaxUploadSizeExceededException;
import org.springframework.web.multipart.support.MissingServletRequestPartException;
import org.springframework.web.servlet.mvc.method.annotation.ResponseEntityExceptionHandler;

import dev.patchbay.shared.ConflictException;
import dev.patchbay.shared.ForbiddenException;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.PatchbayException;
import dev.patchbay.shared.PayloadTooLargeException;
import dev.patchbay.shared.UnauthenticatedException;
import dev.patchbay.shared.UnprocessableException;

/**
 * The one place where failures become HTTP: RFC 9457 problem details with a stable
 * {@code type} per problem kind, a fixed title, the message as detail and typed extension
 * fields.
 */
@RestControllerAdvice
class ProblemHandler extends ResponseEntityExceptionHandler {

	static final String TYPE_BASE = "https://patchbay.dev/problems/";

	private static final Logger logger = LoggerFactory.getLogger(ProblemHandler.class);

	/** Each problem family's status; the families are disjoint. */
	private static final Map<Class<?>, HttpStatus> STATUSES = Map.of(InvalidInputException.class,
			HttpStatus.BAD_REQUEST, NotFoundException.class, HttpStatus.NOT_FOUND, ConflictException.class,
			HttpStatus.CONFLICT, UnprocessableException.class, HttpStatus.UNPROCESSABLE_CONTENT,
			PayloadTooLargeException.class, HttpStatus.PAYLOAD_TOO_LARGE, UnauthenticatedException.class,
			HttpStatus.UNAUTHORIZED, ForbiddenException.class, HttpStatus.FORBIDDEN);

	@ExceptionHandler(PatchbayException.class)
	ResponseEntity<?> handleDomain(PatchbayException ex, HttpServletRequest request) {
		HttpStatus status = statusOf(ex);
		boolean authentication = status == HttpStatus.UNAUTHORIZED || status == HttpStatus.FORBIDDEN;
		if (!authentication && request.getRequestURI().startsWith(KServeController.PATH_PREFIX)) {
			// The Open Inference Protocol defines its own error body; shape errors are
			// 400 there.
			HttpStatus v2Status = (status == HttpStatus.UNPROCESSABLE_CONTENT) ? HttpStatus.BAD_REQUEST : status;
			return ResponseEntity.status(v2Status)
				.contentType(MediaType.APPLICATION_JSON)
				.body(Map.of("error", ex.getMessage()));
		}
		ProblemDetail problem = problem(status, ex.type(), ex.title(), ex.getMessage());
		ex.properties().forEach(problem::setProperty);
		ResponseEntity.BodyBuilder response = ResponseEntity.status(problem.getStatus());
		if (status == HttpStatus.UNAUTHORIZED) {
			response.header(HttpHeaders.WWW_AUTHENTICATE, "Bearer realm=\"patchbay\"");
		}
		return response.contentType(MediaType.APPLICATION_PROBLEM_JSON).body(problem);
	}

	@ExceptionHandler(Exception.class)
	ResponseEntity<ProblemDetail> handleUnexpected(Exception ex) {
		logger.error("Unexpected failure", ex);
		ProblemDetail problem = problem(HttpStatus.INTERNAL_SERVER_ERROR, "internal-error", "Internal error",
				"the server failed to complete the request; it has been logged");
		return ResponseEntity.internalServerError().body(problem);
	}

	@Override
	protected ResponseEntity<Object> handleMissingServletRequestPart(MissingServletRequestPartException ex,
			HttpHeaders headers, HttpStatusCode status, WebRequest request) {
		ProblemDetail problem = problem(HttpStatus.BAD_REQUEST, "invalid-upload", "Invalid upload",
				ex.getRequestPartName() + ": is required");
		problem.setProperty("field", ex.getRequestPartName());
		return ResponseEntity.badRequest().body(problem);
	}

	@Override
	protected ResponseEntity<Object> handleMaxUploadSizeExceededException(MaxUploadSizeExceededException ex,
			HttpHeaders headers, HttpStatusCode status, WebRequest request) {
		ProblemDetail problem = problem(HttpStatus.PAYLOAD_TOO_LARGE, "upload-too-large", "Upload too large",
				"an uploaded file exceeds the limit of " + ex.getMaxUploadSize() + " bytes");
		problem.setProperty("limitBytes", ex.getMaxUploadSize());
		return ResponseEntity.status(HttpStatus.PAYLOAD_TOO_LARGE).body(problem);
	}

	/** Spring MVC's own problems (405, 415, malformed JSON) get the request id too. */
	@Override
	protected ResponseEntity<Object> handleExceptionInternal(Exception ex, Object body, HttpHeaders headers,
			HttpStatusCode statusCode, WebRequest request) {
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

	static ProblemDetail problem(HttpStatusCode status, String type, String title, String detail) {
		ProblemDetail problem = ProblemDetail.forStatusAndDetail(status, detail);
		problem.setType(URI.create(TYPE_BASE + type));
		problem.setTitle(title);
		return withRequestId(problem);
	}

	private static HttpStatus statusOf(PatchbayException ex) {
		return STATUSES.entrySet()
			.stream()
			.filter((entry) -> entry.getKey().isInstance(ex))
			.map(Map.Entry::getValue)
			.findFirst()
			.orElse(HttpStatus.INTERNAL_SERVER_ERROR);
	}

}
