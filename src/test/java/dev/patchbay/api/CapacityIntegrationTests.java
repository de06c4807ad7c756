package dev.patchbay.api;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Import;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.TestPropertySource;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.engine.TensorEngine;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.GatedEngine;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Work beyond what the bounded queues hold is refused up front with 503 and
 * {@code Retry-After}, leaving nothing behind, rather than piling up in memory.
 */
@IntegrationTest
@Import(GatedEngine.Configuration.class)
@TestPropertySource(properties = { "patchbay.inference.max-queued-evaluations=1", "patchbay.composition.workers=1",
		"patchbay.composition.max-queued=1" })
class CapacityIntegrationTests {

	@Autowired
	ApiClient api;

	@Autowired
	JdbcClient database;

	@Autowired
	TransactionTemplate transactions;

	@Autowired
	TensorEngine engine;

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
		Map<String, Object> evaluation = Map.of("modelId", model, "datasetId", dataset, "inputs", "images_clean",
				"labels", "labels", "async", true, "batchSize", 1);
		Response running = this.api.postJson("/api/v1/evaluations", evaluation);
		assertThat(running.code()).isEqualTo(202);
		UUID runningId = UUID.fromString(running.json().get("id").asString());
		// The worker records its progress on the running evaluation's row after each of
		// its 597 batches: holding that row's lock holds the worker, so the next
		// evaluation waits in the queue and the ones after find it full.
		List<Response> responses = new ArrayList<>();
		this.transactions.executeWithoutResult((status) -> {
			String held = this.database.sql("select status from evaluation where id = :id for update")
				.param("id", runningId)
				.query(String.class)
				.single();
			assertThat(held).as("still running when its row is locked").isEqualTo("running");
			for (int i = 0; i < 3; i++) {
				responses.add(this.api.postJson("/api/v1/evaluations", evaluation));
			}
		});
		List<Response> refused = responses.stream().filter((response) -> response.code() == 503).toList();
		refused.forEach((response) -> {
			assertThat(response.header("Retry-After")).containsExactly("5");
			assertThat(response.json().get("type").asString()).endsWith("/evaluations-busy");
			assertThat(response.json().get("limit").asInt()).isEqualTo(1);
		});
		assertThat(responses).extracting(Response::code).containsExactly(202, 503, 503);
		assertThat(this.database.sql("select count(*) from evaluation").query(Long.class).single())
			.as("a refused evaluation leaves no row")
			.isEqualTo(2);
	}

	@Test
	void aCompositionBeyondTheQueueIsRefusedWithRetryAfterAndNotStored() {
		String base = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "busy-base")).file("weights", Fixtures.path("digits/base_v2.safetensors")));
		String lora = this.api.uploadLora("busy-lora", "digits/lora_flip_v2");
		// Audited once before the gate closes: a composition's audit of its patch runs on
		// the engine's pool too, and is kept for the recipes after it.
		assertThat(this.api.get("/api/v1/patches/" + lora + "/audit?modelId=" + base).code()).isEqualTo(200);
		GatedEngine.Gate gate = ((GatedEngine) this.engine).gate();
		// The only worker holds at its first chunk: the next recipe waits in the queue,
		// which holds one, and the one after is refused.
		gate.closeAfter(0);
		try {
			String running = this.api
				.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 0.25))));
			assertThat(gate.awaitBlocked()).as("the worker reached the gate").isTrue();
			String waiting = this.api
				.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 0.5))));
			assertThat(this.api.get("/api/v1/compositions/" + waiting).json().get("status").asString())
				.isEqualTo("pending");
			Response refused = this.api.postJson("/api/v1/compositions",
					Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 0.75))));
			assertThat(refused.code()).as(new String(refused.body())).isEqualTo(503);
			assertThat(refused.header("Retry-After")).singleElement()
				.satisfies((value) -> assertThat(Long.parseLong(value)).isPositive());
			assertThat(refused.json().get("type").asString()).endsWith("/compositions-busy");
			assertThat(refused.json().get("limit").asInt()).isEqualTo(1);
			assertThat(this.database.sql("select count(*) from composition").query(Long.class).single())
				.as("a refused recipe leaves no row")
				.isEqualTo(2);
			gate.open();
			this.api.awaitReady(running, Duration.ofSeconds(60));
			this.api.awaitReady(waiting, Duration.ofSeconds(60));
		}
		finally {
			gate.open();
		}
	}

}
