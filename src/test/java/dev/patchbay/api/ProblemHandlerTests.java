package dev.patchbay.api;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;
import org.springframework.http.MediaType;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

import dev.patchbay.registry.ArtifactNotFoundException;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.shared.InsufficientResourcesException;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.ServiceBusyException;
import dev.patchbay.shared.UnauthenticatedException;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.StorageProperties;

import static org.hamcrest.Matchers.containsString;
import static org.hamcrest.Matchers.not;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.content;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.header;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.jsonPath;
import static org.springframework.test.web.servlet.result.MockMvcResultMatchers.status;

/**
 * The problem handler alone, behind a controller that only fails: each family of domain
 * exception becomes its status and catalogue entry, with the message as detail and the
 * typed fields kept. The key filter is left out: it needs the key store, and has its own
 * tests; the handler reads the upload limit it states from the storage properties.
 */
@WebMvcTest(controllers = ProblemHandlerTests.FailingController.class,
		excludeFilters = @ComponentScan.Filter(type = FilterType.ASSIGNABLE_TYPE, classes = ApiKeyFilter.class))
@Import(ProblemHandlerTests.FailingController.class)
@EnableConfigurationProperties(StorageProperties.class)
class ProblemHandlerTests {

	private static final UUID MODEL = UUID.fromString("5b0f1a2c-0000-4000-8000-000000000001");

	@Autowired
	private MockMvc mvc;

	@Test
	void answersInvalidInputWith400AndTheFieldAtFault() throws Exception {
		this.mvc.perform(get("/failing/invalid"))
			.andExpect(status().isBadRequest())
			.andExpect(content().contentType(MediaType.APPLICATION_PROBLEM_JSON))
			.andExpect(jsonPath("$.type").value("https://patchbay.dev/problems/invalid-safetensors"))
			.andExpect(jsonPath("$.title").value("Invalid safetensors file"))
			.andExpect(jsonPath("$.status").value(400))
			.andExpect(jsonPath("$.detail").value("lora.safetensors: tensor 'w' is truncated"))
			.andExpect(jsonPath("$.file").value("lora.safetensors"))
			.andExpect(jsonPath("$.tensor").value("w"));
	}

	@Test
	void answersAnUnknownIdWith404() throws Exception {
		this.mvc.perform(get("/failing/missing"))
			.andExpect(status().isNotFound())
			.andExpect(jsonPath("$.type").value("https://patchbay.dev/problems/model-not-found"))
			.andExpect(jsonPath("$.title").value("Model not found"))
			.andExpect(jsonPath("$.detail").value("no model has id " + MODEL))
			.andExpect(jsonPath("$.id").value(MODEL.toString()));
	}

	@Test
	void answersAnImpossibleRecipeWith422AndBothShapes() throws Exception {
		this.mvc.perform(get("/failing/shape"))
			.andExpect(status().isUnprocessableContent())
			.andExpect(jsonPath("$.type").value("https://patchbay.dev/problems/shape-mismatch"))
			.andExpect(jsonPath("$.title").value("Shapes differ"))
			.andExpect(jsonPath("$.tensor").value("layers.0.q"))
			.andExpect(jsonPath("$.expectedShape[1]").value(8))
			.andExpect(jsonPath("$.actualShape[1]").value(4));
	}

	@Test
	void answersAtCapacityWith503AndWhenToComeBack() throws Exception {
		this.mvc.perform(get("/failing/busy"))
			.andExpect(status().isServiceUnavailable())
			.andExpect(header().string("Retry-After", "30"))
			.andExpect(jsonPath("$.type").value("https://patchbay.dev/problems/compositions-busy"))
			.andExpect(jsonPath("$.title").value("Too many queued compositions"))
			.andExpect(jsonPath("$.limit").value(1));
	}

	@Test
	void answersOutOfMemoryWith507() throws Exception {
		this.mvc.perform(get("/failing/memory"))
			.andExpect(status().isInsufficientStorage())
			.andExpect(jsonPath("$.type").value("https://patchbay.dev/problems/engine-out-of-memory"))
			.andExpect(jsonPath("$.title").value("Out of memory"));
	}

	@Test
	void answersMissingCredentialsWith401AndAChallenge() throws Exception {
		this.mvc.perform(get("/failing/anonymous"))
			.andExpect(status().isUnauthorized())
			.andExpect(header().string("WWW-Authenticate", "Bearer realm=\"patchbay\""))
			.andExpect(jsonPath("$.type").value("https://patchbay.dev/problems/unauthenticated"));
	}

	@Test
	void answersABugWith500AndKeepsItsMessageToTheLog() throws Exception {
		this.mvc.perform(get("/failing/bug"))
			.andExpect(status().isInternalServerError())
			.andExpect(jsonPath("$.type").value("https://patchbay.dev/problems/internal-error"))
			.andExpect(jsonPath("$.title").value("Internal error"))
			.andExpect(content().string(not(containsString("secret-path"))))
			.andExpect(content().string(not(containsString("IllegalStateException"))));
	}

	@Test
	void answersAWrongParameterTypeWithTheParameterAtFault() throws Exception {
		this.mvc.perform(get("/failing/models/not-a-uuid"))
			.andExpect(status().isBadRequest())
			.andExpect(jsonPath("$.type").value("https://patchbay.dev/problems/invalid-parameter"))
			.andExpect(jsonPath("$.title").value("Invalid parameter"))
			.andExpect(jsonPath("$.field").value("id"))
			.andExpect(jsonPath("$.detail").value("id: must be a UUID"));
	}

	@Test
	void answersUnderV2InTheOpenInferenceProtocolsShape() throws Exception {
		// A shape problem is 422 on our API and 400 in the Open Inference Protocol.
		this.mvc.perform(get("/v2/failing/shape"))
			.andExpect(status().isBadRequest())
			.andExpect(content().contentType(MediaType.APPLICATION_JSON))
			.andExpect(jsonPath("$.error").value("layers.0.q: the patch takes [16, 8] but the base has [16, 4]"))
			.andExpect(jsonPath("$.type").doesNotExist());
	}

	@RestController
	static class FailingController {

		@GetMapping("/failing/invalid")
		void invalid() {
			throw new InvalidInputException(ProblemKind.INVALID_SAFETENSORS,
					"lora.safetensors: tensor 'w' is truncated", Map.of("file", "lora.safetensors", "tensor", "w"));
		}

		@GetMapping("/failing/missing")
		void missing() {
			throw ArtifactNotFoundException.forId(ArtifactType.MODEL, MODEL);
		}

		@GetMapping({ "/failing/shape", "/v2/failing/shape" })
		void shape() {
			throw new UnprocessableException(ProblemKind.SHAPE_MISMATCH,
					"layers.0.q: the patch takes [16, 8] but the base has [16, 4]",
					Map.of("tensor", "layers.0.q", "expectedShape", List.of(16, 8), "actualShape", List.of(16, 4)));
		}

		@GetMapping("/failing/busy")
		void busy() {
			throw new ServiceBusyException(ProblemKind.COMPOSITIONS_BUSY, "the queue is full", Duration.ofSeconds(30),
					Map.of("limit", 1));
		}

		@GetMapping("/failing/memory")
		void memory() {
			throw new InsufficientResourcesException(ProblemKind.ENGINE_OUT_OF_MEMORY, "the engine ran out of memory",
					Map.of(), new OutOfMemoryError("CUDA out of memory"));
		}

		@GetMapping("/failing/anonymous")
		void anonymous() {
			throw new UnauthenticatedException(ProblemKind.UNAUTHENTICATED, "this endpoint needs an API key", Map.of());
		}

		@GetMapping("/failing/bug")
		void bug() {
			throw new IllegalStateException("cannot open /secret-path/blob");
		}

		@GetMapping("/failing/models/{id}")
		void model(@PathVariable UUID id) {
		}

	}

}
