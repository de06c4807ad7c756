package dev.patchbay.api;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonProperty;
import jakarta.servlet.http.HttpServletRequest;
import tools.jackson.databind.JsonNode;

import org.springframework.boot.availability.ApplicationAvailability;
import org.springframework.boot.availability.ReadinessState;
import org.springframework.core.env.Environment;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

import dev.patchbay.inference.Inference;
import dev.patchbay.inference.InferenceResult;
import dev.patchbay.inference.ModelMetadata;
import dev.patchbay.inference.OutputTensor;
import dev.patchbay.registry.GraphSignature.Declaration;

/**
 * The KServe v2 (Open Inference Protocol) REST endpoints. {@code id} is a model id or a
 * composition id, whose one version is {@link Inference#VERSION}. Errors here use the
 * protocol's {@code {"error": "..."}} body (see ProblemHandler).
 */
@RestController
@RequestMapping("/v2")
class KServeController {

	static final String PATH = "/v2";

	private static final String SERVER_NAME = "patchbay";

	private final Inference inference;

	private final ApplicationAvailability availability;

	private final String version;

	KServeController(Inference inference, ApplicationAvailability availability, Environment environment) {
		this.inference = inference;
		this.availability = availability;
		// Set from the jar's manifest by Spring Boot; absent when run from classes.
		this.version = environment.getProperty("spring.application.version", "unknown");
	}

	/** Whether a request URI is under the protocol's root, so gets its error body. */
	static boolean isV2(String requestUri) {
		return requestUri.equals(PATH) || requestUri.startsWith(PATH + "/");
	}

	/**
	 * Server metadata. No protocol extension (model repository, statistics) is offered.
	 */
	@GetMapping
	ServerMetadata server() {
		return new ServerMetadata(SERVER_NAME, this.version, List.of());
	}

	@GetMapping("/health/live")
	Map<String, Boolean> live() {
		return Map.of("live", true);
	}

	/** Ready as the application's readiness state says, so both probes agree. */
	@GetMapping("/health/ready")
	ResponseEntity<Map<String, Boolean>> ready() {
		boolean ready = this.availability.getReadinessState() == ReadinessState.ACCEPTING_TRAFFIC;
		if (ready) {
			return ResponseEntity.ok(Map.of("ready", true));
		}
		// Not ready yet (starting) or any more (draining): probes and clients retry.
		return ResponseEntity.status(HttpStatus.SERVICE_UNAVAILABLE)
			.header(HttpHeaders.RETRY_AFTER, "5")
			.body(Map.of("ready", false));
	}

	@GetMapping("/models/{id}")
	ModelMetadataResponse metadata(@PathVariable String id) {
		return ModelMetadataResponse.of(this.inference.metadata(id));
	}

	@GetMapping("/models/{id}/versions/{version}")
	ModelMetadataResponse metadata(@PathVariable String id, @PathVariable String version) {
		this.inference.requireVersion(id, version);
		return metadata(id);
	}

	/**
	 * The protocol says readiness by status: 200 when ready, a 4xx when not, both with
	 * the same body.
	 */
	@GetMapping("/models/{id}/ready")
	ResponseEntity<ModelReady> modelReady(@PathVariable String id) {
		boolean ready = this.inference.ready(id);
		return ResponseEntity.status(ready ? HttpStatus.OK : HttpStatus.BAD_REQUEST).body(new ModelReady(id, ready));
	}

	@GetMapping("/models/{id}/versions/{version}/ready")
	ResponseEntity<ModelReady> modelReady(@PathVariable String id, @PathVariable String version) {
		this.inference.requireVersion(id, version);
		return modelReady(id);
	}

	/**
	 * The body is decoded as it streams in, not bound as a whole: tensors can be large.
	 */
	@PostMapping(path = "/models/{id}/infer", consumes = MediaType.APPLICATION_JSON_VALUE)
	InferenceResponse infer(@PathVariable String id, HttpServletRequest request) throws IOException {
		return InferenceResponse.of(id,
				this.inference.infer(id, request.getInputStream(), request.getContentLengthLong()));
	}

	@PostMapping(path = "/models/{id}/versions/{version}/infer", consumes = MediaType.APPLICATION_JSON_VALUE)
	InferenceResponse infer(@PathVariable String id, @PathVariable String version, HttpServletRequest request)
			throws IOException {
		this.inference.requireVersion(id, version);
		return infer(id, request);
	}

	/**
	 * KServe v2 server metadata.
	 *
	 * @param name the server's name
	 * @param version the server's version
	 * @param extensions the protocol extensions it supports
	 */
	record ServerMetadata(String name, String version, List<String> extensions) {
	}

	/**
	 * KServe v2 model readiness.
	 *
	 * @param name the model or composition id
	 * @param ready whether inference on it runs now
	 */
	record ModelReady(String name, boolean ready) {
	}

	/** KServe v2 model metadata: a {@link ModelMetadata} on the wire. */
	record ModelMetadataResponse(String name, List<String> versions, String platform, List<TensorMetadata> inputs,
			List<TensorMetadata> outputs) {

		static ModelMetadataResponse of(ModelMetadata metadata) {
			return new ModelMetadataResponse(metadata.name(), metadata.versions(), metadata.platform(),
					metadata.inputs().stream().map(TensorMetadata::of).toList(),
					metadata.outputs().stream().map(TensorMetadata::of).toList());
		}

	}

	/**
	 * One declared tensor.
	 *
	 * @param name its name
	 * @param datatype its KServe datatype
	 * @param shape its dimensions, -1 where variable
	 */
	record TensorMetadata(String name, String datatype, List<Long> shape) {

		static TensorMetadata of(Declaration declaration) {
			return new TensorMetadata(declaration.name(), declaration.datatype(), declaration.shape());
		}

	}

	/**
	 * A KServe v2 inference response.
	 *
	 * @param modelName the model or composition id, as the path gave it
	 * @param id the request id, if one was sent
	 * @param outputs the graph's outputs, in order
	 */
	record InferenceResponse(@JsonProperty("model_name") String modelName, String id, List<InferenceTensor> outputs) {

		static InferenceResponse of(String modelName, InferenceResult result) {
			return new InferenceResponse(modelName, result.requestId(),
					result.outputs().stream().map(InferenceTensor::of).toList());
		}

	}

	/**
	 * An output tensor in a KServe v2 response: an {@link OutputTensor} on the wire.
	 */
	record InferenceTensor(String name, List<Long> shape, String datatype, JsonNode data) {

		static InferenceTensor of(OutputTensor tensor) {
			return new InferenceTensor(tensor.name(), tensor.shape(), tensor.datatype(), tensor.data());
		}

	}

}
