package dev.patchbay.composition;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.engine.TensorEngine;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.GatedEngine;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * Cancelling compositions over HTTP. The engine's pool can be gated: a composition's
 * worker then stalls handing it a chunk, midway through its output, so that a cancel
 * finds it running at a known point. Chunks are the smallest allowed (1024 elements) so
 * that one tensor is many chunks.
 */
@IntegrationTest
@TestPropertySource(properties = { "patchbay.composition.chunk-elements=1024", "patchbay.composition.workers=1" })
@Import(GatedEngine.Configuration.class)
class CompositionCancelIntegrationTests {

	private static final Duration TIMEOUT = Duration.ofSeconds(30);

	/** Eight tensors of 8 × 1024 floats: 64 chunks. */
	private static final int TENSORS = 8;

	private static final long[] SHAPE = { 8, 1024 };

	@Autowired
	ApiClient api;

	@Autowired
	TensorEngine engine;

	@Autowired
	CompositionProperties properties;

	@Autowired
	MeterRegistry meters;

	@AfterEach
	void openTheGate() {
		gate().open();
	}

	@Test
	void aRunningCompositionStopsAtItsNextChunkAndLeavesNothingBehind() throws IOException {
		String base = upload("/api/v1/models", Map.of("name", unique("cancel-base")), 1f);
		String delta = upload("/api/v1/patches", Map.of("kind", "diff", "name", unique("cancel-delta")), 2f);
		String resultName = unique("cancel-result");
		Map<String, Object> recipe = Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", delta)),
				"resultName", resultName);
		long cancelledBefore = cancelled();

		gate().closeAfter(6);
		JsonNode created = this.api.postJson("/api/v1/compositions", recipe).json();
		String id = created.get("id").asString();
		String digest = created.get("recipeDigest").asString();
		assertThat(gate().awaitBlocked()).as("the worker reached the gate").isTrue();
		JsonNode running = this.api.get("/api/v1/compositions/" + id).json();
		assertThat(running.get("status").asString()).isEqualTo("running");
		assertThat(running.get("progress").get("bytesDone").asLong()).as("part of the output is written").isPositive();
		assertThat(cacheFiles(digest)).as("the partial output, in the cache").hasSize(1);

		Response cancel = this.api.postJson("/api/v1/compositions/" + id + "/cancel", Map.of());
		assertThat(cancel.code()).as(new String(cancel.body())).isEqualTo(202);
		assertThat(cancel.header("Retry-After")).containsExactly("1");
		assertThat(cancel.header("Location")).singleElement().asString().endsWith("/api/v1/compositions/" + id);
		assertThat(cancel.json().get("status").asString()).isEqualTo("cancelled");
		assertThat(this.api.get("/api/v1/compositions/" + id).json().get("status").asString()).isEqualTo("cancelled");

		gate().open();
		await("the worker stopped as cancelled").atMost(TIMEOUT).until(() -> cancelled() == cancelledBefore + 1);
		JsonNode after = this.api.get("/api/v1/compositions/" + id).json();
		assertThat(after.get("status").asString()).isEqualTo("cancelled");
		assertThat(after.get("progress").get("tensorsDone").asInt()).isLessThan(TENSORS);
		assertThat(after.get("resultModelId").isNull()).isTrue();
		assertThat(cacheFiles(digest)).as("no partial output remains").isEmpty();
		assertThat(this.api.get("/api/v1/models?name=" + resultName).json().get("totalItems").asLong()).isZero();
		Response weights = this.api.get("/api/v1/compositions/" + id + "/weights");
		assertThat(weights.code()).isEqualTo(409);
		assertThat(weights.json().get("type").asString()).endsWith("/composition-cancelled");
		// Cancelling again changes nothing; a cancelled composition may be deleted.
		assertThat(this.api.postJson("/api/v1/compositions/" + id + "/cancel", Map.of()).code()).isEqualTo(200);

		// Posting the recipe again queues it anew, and it computes in full.
		Response again = this.api.postJson("/api/v1/compositions", recipe);
		assertThat(again.code()).isEqualTo(200);
		assertThat(again.json().get("id").asString()).isEqualTo(id);
		JsonNode ready = this.api.awaitReady(id, TIMEOUT);
		byte[] merged = this.api.get("/api/v1/models/" + ready.get("resultModelId").asString() + "/weights").body();
		Map<String, float[]> tensors = Fixtures.floats(merged);
		assertThat(tensors).hasSize(TENSORS);
		// θ' = θ + Δ with θ[i] = (i mod 7) + 1 and Δ = 2θ.
		float[] first = tensors.get("t0");
		for (int i = 0; i < first.length; i += 997) {
			assertThat(first[i]).isCloseTo(3f * ((i % 7) + 1), within(1e-6f));
		}
		assertThat(this.api.get("/api/v1/models/" + resultName).json().get("version").asString()).isEqualTo("1");
		assertThat(this.api.postJson("/api/v1/compositions/" + id + "/cancel", Map.of()).code()).isEqualTo(409);
	}

	@Test
	void aQueuedCompositionIsCancelledAtOnceAndNeverComputed() {
		String base = upload("/api/v1/models", Map.of("name", unique("queued-base")), 1f);
		String delta = upload("/api/v1/patches", Map.of("kind", "diff", "name", unique("queued-delta")), 2f);
		gate().closeAfter(0);
		String busy = this.api.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", delta))));
		assertThat(gate().awaitBlocked()).isTrue();
		// The only worker is busy: this one waits in the queue.
		String queued = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", delta, "weight", 0.5))));
		assertThat(this.api.get("/api/v1/compositions/" + queued).json().get("status").asString()).isEqualTo("pending");

		Response cancel = this.api.postJson("/api/v1/compositions/" + queued + "/cancel", Map.of());
		assertThat(cancel.code()).isEqualTo(200);
		assertThat(cancel.header("Retry-After")).isEmpty();
		assertThat(cancel.json().get("status").asString()).isEqualTo("cancelled");
		assertThat(cancel.json().get("finishedAt").isNull()).isFalse();

		gate().open();
		this.api.awaitReady(busy, TIMEOUT);
		// Cancelled throughout two polls of the queue: never claimed.
		await("still cancelled across two polls").during(this.properties.pollInterval().multipliedBy(2))
			.atMost(this.properties.pollInterval().multipliedBy(4))
			.until(() -> this.api.get("/api/v1/compositions/" + queued).json().get("status").asString(),
					"cancelled"::equals);
		JsonNode after = this.api.get("/api/v1/compositions/" + queued).json();
		assertThat(after.get("status").asString()).isEqualTo("cancelled");
		assertThat(after.get("startedAt").isNull()).isTrue();
		assertThat(after.get("progress").get("bytesDone").asLong()).isZero();
		assertThat(this.api.get("/api/v1/compositions?status=cancelled&size=200")
			.json()
			.get("items")
			.findValuesAsString("id")).contains(queued);

		Response finished = this.api.postJson("/api/v1/compositions/" + busy + "/cancel", Map.of());
		assertThat(finished.code()).isEqualTo(409);
		assertThat(finished.json().get("status").asString()).isEqualTo("ready");
		assertThat(this.api.postJson("/api/v1/compositions/" + UUID.randomUUID() + "/cancel", Map.of()).code())
			.isEqualTo(404);
		assertThat(this.api.delete("/api/v1/compositions/" + queued).code()).isEqualTo(204);
	}

	private GatedEngine.Gate gate() {
		return ((GatedEngine) this.engine).gate();
	}

	private long cancelled() {
		Timer timer = this.meters.find("patchbay.composition.duration").tag("outcome", "cancelled").timer();
		return (timer != null) ? timer.count() : 0;
	}

	private List<Path> cacheFiles(String digest) throws IOException {
		try (Stream<Path> files = Files.list(this.properties.cacheDirectory())) {
			return files.filter((file) -> file.getFileName().toString().startsWith(digest)).toList();
		}
	}

	private String upload(String path, Map<String, Object> metadata, float scale) {
		Map<String, long[]> shapes = new LinkedHashMap<>();
		Map<String, float[]> values = new LinkedHashMap<>();
		for (int t = 0; t < TENSORS; t++) {
			float[] tensor = new float[(int) (SHAPE[0] * SHAPE[1])];
			for (int i = 0; i < tensor.length; i++) {
				tensor[i] = scale * ((i % 7) + 1);
			}
			shapes.put("t" + t, SHAPE);
			values.put("t" + t, tensor);
		}
		return this.api.upload(path,
				multipart(metadata).bytes("weights", "w.safetensors", Fixtures.f32(shapes, values)));
	}

	private static String unique(String name) {
		return name + "-" + UUID.randomUUID().toString().substring(0, 8);
	}

}
