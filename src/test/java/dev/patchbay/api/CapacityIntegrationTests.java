package dev.patchbay.api;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Work beyond what the bounded queues hold is refused up front with 503 and
 * {@code Retry-After}, leaving nothing behind, rather than piling up in memory.
 */
@IntegrationTest
@TestPropertySource(properties = { "patchbay.inference.max-queued-evaluations=1", "patchbay.composition.workers=1",
		"patchbay.composition.max-queued=1" })
class CapacityIntegrationTests {

	@Autowired
	ApiClient api;

	@Autowired
	JdbcClient database;

	@Test
	void anAsynchronousEvaluationBeyondTheQueueIsRefusedWithRetryAfterAndNotStored() {
		String model = this.api
			.upload("/api/v1/models",
					multipart(Map.of("name", "busy-digits", "signature", Map.of("inputs",
							List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))))))
						.file("weights", Fixtures.path("digits/base_v2.safetensors"))
						.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		String dataset = this.api.upload("/api/v1/datasets",
				multipart(Map.of("name", "busy-testset")).file("data", Fixtures.path("digits/testset.safetensors")));
		// One row per forward pass: each evaluation runs far longer than a request takes,
		// so the first runs, the second waits, and the rest find the queue full.
		List<Response> responses = new ArrayList<>();
		for (int i = 0; i < 4; i++) {
			responses.add(this.api.postJson("/api/v1/evaluations", Map.of("modelId", model, "datasetId", dataset,
					"inputs", "images_clean", "labels", "labels", "async", true, "batchSize", 1)));
		}
		List<Response> refused = responses.stream().filter((response) -> response.code() == 503).toList();
		assertThat(refused).as("refused beyond one running and one queued").isNotEmpty();
		refused.forEach((response) -> {
			assertThat(response.header("Retry-After")).containsExactly("5");
			assertThat(response.json().get("type").asString()).endsWith("/evaluations-busy");
			assertThat(response.json().get("limit").asInt()).isEqualTo(1);
		});
		long accepted = responses.stream().filter((response) -> response.code() == 202).count();
		assertThat(accepted + refused.size()).isEqualTo(responses.size());
		assertThat(this.database.sql("select count(*) from evaluation").query(Long.class).single())
			.as("a refused evaluation leaves no row")
			.isEqualTo(accepted);
	}

}
