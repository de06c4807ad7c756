package dev.patchbay.api;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;

import jakarta.servlet.FilterChain;
import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.MDC;

import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.core.Ordered;
import org.springframework.core.annotation.Order;
import org.springframework.http.HttpHeaders;
import org.springframework.stereotype.Component;
import org.springframework.web.filter.OncePerRequestFilter;
import org.springframework.web.servlet.HandlerExceptionResolver;

import dev.patchbay.security.ApiKeys;
import dev.patchbay.security.Role;
import dev.patchbay.shared.ForbiddenException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnauthenticatedException;

/**
 * Checks the API key of every request against the role its endpoint needs. Reading and
 * inference need {@code reader}, every other write needs {@code publisher}, key and
 * webhook management need {@code admin}. Health probes (actuator's and KServe's) and the
 * API docs stay open, so that orchestrators can probe and a person can load Swagger UI to
 * enter a key.
 */
@Component
// Early, but after the request id filter, so a refused request's problem and log line
// still carry its id.
@Order(Ordered.HIGHEST_PRECEDENCE + 10)
class ApiKeyFilter extends OncePerRequestFilter {

	// The auth scheme is case-insensitive (RFC 9110), hence regionMatches below.
	private static final String BEARER = "Bearer ";

	private static final String HUB_KEY_PREFIX = "hf_";

	/** The request attribute holding the {@link Role} of the key a request presented. */
	static final String ROLE_ATTRIBUTE = ApiKeyFilter.class.getName() + ".role";

	private final ApiKeys keys;

	// MVC's resolver, so a refusal in this filter gets the same problem+json body as an
	// exception thrown by a controller.
	private final HandlerExceptionResolver problems;

	ApiKeyFilter(ApiKeys keys, @Qualifier("handlerExceptionResolver") HandlerExceptionResolver problems) {
		this.keys = keys;
		this.problems = problems;
	}

	@Override
	protected void doFilterInternal(HttpServletRequest request, HttpServletResponse response, FilterChain chain)
			throws ServletException, IOException {
		Optional<Role> required = requiredRole(request.getMethod(), pathOf(request));
		if (required.isEmpty()) {
			chain.doFilter(request, response);
			return;
		}
		String authorization = request.getHeader(HttpHeaders.AUTHORIZATION);
		if (authorization == null || !authorization.regionMatches(true, 0, BEARER, 0, BEARER.length())) {
			reject(request, response, new UnauthenticatedException(ProblemKind.UNAUTHENTICATED,
					"this endpoint needs an API key: send Authorization: Bearer <key>", Map.of()));
			return;
		}
		String key = authorization.substring(BEARER.length()).trim();
		Optional<Role> role = this.keys.authenticate(key);
		if (role.isEmpty() && key.startsWith(HUB_KEY_PREFIX) && pathOf(request).startsWith("/hf/")) {
			// The Hub's JS client refuses tokens without the prefix, so under /hf a key
			// may come as hf_ + the key.
			role = this.keys.authenticate(key.substring(HUB_KEY_PREFIX.length()));
		}
		if (role.isEmpty()) {
			reject(request, response, new UnauthenticatedException(ProblemKind.UNAUTHENTICATED,
					"the API key is not valid; it may have been revoked", Map.of()));
			return;
		}
		if (!role.get().includes(required.get())) {
			reject(request, response,
					new ForbiddenException(ProblemKind.FORBIDDEN,
							"this request needs the " + required.get().wireName() + " role; the key has "
									+ role.get().wireName(),
							Map.of("requiredRole", required.get().wireName(), "role", role.get().wireName())));
			return;
		}
		// The role goes into every log line of the request, never the key.
		MDC.put("role", role.get().wireName());
		request.setAttribute(ROLE_ATTRIBUTE, role.get());
		try {
			chain.doFilter(request, response);
		}
		finally {
			MDC.remove("role");
		}
	}

	/** The role a request needs, or empty for the open endpoints. */
	static Optional<Role> requiredRole(String method, String path) {
		// KServe's probes are the protocol's health endpoints, and carry no key either.
		if (path.equals("/actuator/health") || path.startsWith("/actuator/health/") || path.startsWith("/v2/health/")
				|| path.equals("/openapi.yaml") || path.equals("/swagger-ui.html") || path.startsWith("/swagger-ui/")
				|| path.startsWith("/webjars/swagger-ui/")) {
			return Optional.empty();
		}
		if (path.equals("/api/v1/keys") || path.startsWith("/api/v1/keys/") || path.equals("/api/v1/webhooks")
				|| path.startsWith("/api/v1/webhooks/")) {
			return Optional.of(Role.ADMIN);
		}
		// Anything not listed above falls under this rule, so a new endpoint needs a key
		// by default and a write needs publisher.
		boolean reads = method.equals("GET") || method.equals("HEAD") || method.equals("OPTIONS");
		// Inference is a POST only because inputs are large; it changes nothing.
		boolean infers = method.equals("POST") && path.startsWith("/v2/models/") && path.endsWith("/infer");
		return Optional.of((reads || infers) ? Role.READER : Role.PUBLISHER);
	}

	/** The decoded, normalized path the dispatcher will route, not the raw URI. */
	private static String pathOf(HttpServletRequest request) {
		String pathInfo = request.getPathInfo();
		return request.getServletPath() + ((pathInfo != null) ? pathInfo : "");
	}

	/** Answers with the problem without reaching the handler. */
	private void reject(HttpServletRequest request, HttpServletResponse response, RuntimeException problem) {
		this.problems.resolveException(request, response, null, problem);
	}

}
