package dev.patchbay.api;

import java.io.IOException;
import java.util.Map;

import jakarta.servlet.http.HttpServletRequest;

import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

import dev.patchbay.inference.Inference;
import dev.patchbay.inference.InferenceResponse;
import dev.patchbay.inference.ModelMetadataResponse;

/**
 * The KServe v2 (Open Inference Protocol) REST endpoints. {@code id} is a model id or a
 * composition id. Errors here use the protocol's {@code {"error": "..."}} body (see
 * ProblemHandler).
 */
@RestController
@RequestMapping("/v2")
class KServeController {

	static final String PATH_PREFIX = "/v2/";

	private final Inference inference;

	KServeController(Inference inference) {
		this.inference = inference;
	}

	@GetMapping("/health/live")
	Map<String, Boolean> live() {
		return Map.of("live", true);
	}

	@GetMapping("/health/ready")
	Map<String, Boolean> ready() {
		return Map.of("ready", true);
	}

	@GetMapping("/models/{id}")
	ModelMetadataResponse metadata(@PathVariable String id) {
		return this.inference.metadata(id);
	}

	/**
	 * The body is decoded as it streams in, not bound as a whole: tensors can be large.
	 */
	@PostMapping(path = "/models/{id}/infer", consumes = MediaType.APPLICATION_JSON_VALUE)
	InferenceResponse infer(@PathVariable String id, HttpServletRequest request) throws IOException {
		return this.inference.infer(id, request.getInputStream(), request.getContentLengthLong());
	}

}
