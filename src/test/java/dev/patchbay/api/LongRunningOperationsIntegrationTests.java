package dev.patchbay.api;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.simple.JdbcClient;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Following long-running work without knowing its ids: compositions listed by status,
 * newest first and paged, and a started evaluation telling pollers when to come back.
 */
@IntegrationTest
class LongRunningOperationsIntegrationTests {

	@Autowired
	ApiClient api;

	@Autowired
	JdbcClient database;

	@Test
	void compositionsAreListedNewestFirstByStatusAndPaged() {
		String base = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "listing-base")).file("weights", Fixtures.path("digits/base_v2.safetensors")));
		String lora = this.api.uploadLora("listing-lora", "digits/lora_flip_v2");
		String older = this.api.compose(Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", lora, "weight", 0.25)), "materialize", true));
		String newer = this.api.compose(Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", lora, "weight", 0.75)), "materialize", true));
		this.api.awaitReady(older, Duration.ofSeconds(30));
		this.api.awaitReady(newer, Duration.ofSeconds(30));

		List<String> ready = ids(this.api.get("/api/v1/compositions?status=ready&size=200").json());
		assertThat(ready).containsSubsequence(newer, older);
		assertThat(ids(this.api.get("/api/v1/compositions?status=failed&size=200").json())).doesNotContain(newer,
				older);
		JsonNode first = this.api.get("/api/v1/compositions?size=1").json();
		assertThat(first.get("items")).hasSize(1);
		assertThat(first.get("totalItems").asLong()).isGreaterThanOrEqualTo(2);
		JsonNode second = this.api.get("/api/v1/compositions?size=1&page=1").json();
		assertThat(ids(second)).hasSize(1).doesNotContainAnyElementsOf(ids(first));

		Response unknown = this.api.get("/api/v1/compositions?status=done");
		assertThat(unknown.code()).isEqualTo(400);
		assertThat(unknown.json().get("field").asString()).isEqualTo("status");
		assertThat(unknown.json().get("detail").asString()).contains("ready");
	}

	@Test
	void aStartedEvaluationSaysWhenToPollAgain() {
		String model = this.api
			.upload("/api/v1/models",
					multipart(Map.of("name", "listing-digits", "signature", Map.of("inputs",
							List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))))))
						.file("weights", Fixtures.path("digits/base_v2.safetensors"))
						.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		String dataset = this.api.upload("/api/v1/datasets",
				multipart(Map.of("name", "listing-testset")).file("data", Fixtures.path("digits/testset.safetensors")));
		Response started = this.api.postJson("/api/v1/evaluations", Map.of("modelId", model, "datasetId", dataset,
				"inputs", "images_clean", "labels", "labels", "async", true));
		assertThat(started.code()).as(new String(started.body())).isEqualTo(202);
		assertThat(started.header("Retry-After")).containsExactly("1");
		String id = started.json().get("id").asString();
		assertThat(started.header("Location")).singleElement().asString().endsWith("/api/v1/evaluations/" + id);
		long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
		JsonNode stored = this.api.get("/api/v1/evaluations/" + id).json();
		while (stored.get("status").asString().equals("running")) {
			assertThat(System.nanoTime()).as("finished within 30 s").isLessThan(deadline);
			stored = this.api.get("/api/v1/evaluations/" + id).json();
		}
		assertThat(stored.get("status").asString()).isEqualTo("done");
		assertThat(stored.get("count").asLong()).isEqualTo(597);
		// Stored in PostgreSQL, not in this replica's memory.
		assertThat(this.database.sql("select status from evaluation where id = :id")
			.param("id", java.util.UUID.fromString(id))
			.query(String.class)
			.single()).isEqualTo("done");
		assertThat(ids(this.api.get("/api/v1/evaluations?status=done&size=200").json())).contains(id);
		assertThat(ids(this.api.get("/api/v1/evaluations?status=running&size=200").json())).doesNotContain(id);
		assertThat(this.api.get("/api/v1/evaluations?status=ready").code()).isEqualTo(400);
	}

	private static List<String> ids(JsonNode page) {
		return page.get("items").valueStream().map((item) -> item.get("id").asString()).toList();
	}

}
