package dev.patchbay.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Deletes racing uploads, compositions and inference that share what they delete.
 */
@IntegrationTest
class SharedBlobRaceIntegrationTests {

	private static final int ROUNDS = 20;

	@Autowired
	ApiClient api;

	@Test
	void anUploadAcknowledgedWhileAnotherArtifactWithTheSameBytesIsDeletedKeepsItsBytes() throws Exception {
		List<String> lost = new ArrayList<>();
		ExecutorService pool = Executors.newFixedThreadPool(2);
		try {
			for (int round = 0; round < ROUNDS; round++) {
				byte[] weights = randomSafetensors();
				String first = this.api.upload("/api/v1/models",
						multipart(Map.of("name", "shared-a-" + UUID.randomUUID())).bytes("weights", "a.safetensors",
								weights));
				CyclicBarrier start = new CyclicBarrier(2);
				CompletableFuture<Response> delete = race(pool, start,
						() -> this.api.delete("/api/v1/models/" + first));
				CompletableFuture<Response> upload = race(pool, start,
						() -> this.api.postMultipart("/api/v1/models",
								multipart(Map.of("name", "shared-b-" + UUID.randomUUID())).bytes("weights",
										"b.safetensors", weights)));
				assertThat(delete.get().code()).isEqualTo(204);
				Response created = upload.get();
				assertThat(created.code()).isEqualTo(201);
				Response download = this.api.get("/api/v1/models/" + created.json().get("id").asString() + "/weights");
				if (download.code() != 200 || !Arrays.equals(download.body(), weights)) {
					lost.add("round " + round + ": " + download.code());
				}
			}
		}
		finally {
			pool.shutdownNow();
		}
		assertThat(lost).as("uploads that got 201 but lost their bytes").isEmpty();
	}

	@Test
	void aDeleteRacingACompositionThatReferencesThePatchConflictsOrSucceedsCleanly() throws Exception {
		ExecutorService pool = Executors.newFixedThreadPool(2);
		List<Integer> deletes = new ArrayList<>();
		try {
			String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "race-base-" + UUID.randomUUID()))
				.file("weights", Fixtures.path("lora_llama/base.safetensors")));
			for (int round = 0; round < 10; round++) {
				String patch = this.api.uploadLora("race-lora-" + UUID.randomUUID(), "lora_llama/adapter");
				double weight = 0.5 + round;
				CyclicBarrier start = new CyclicBarrier(2);
				CompletableFuture<Response> delete = race(pool, start,
						() -> this.api.delete("/api/v1/patches/" + patch));
				CompletableFuture<Response> compose = race(pool, start,
						() -> this.api.postJson("/api/v1/compositions", Map.of("baseModelId", base, "terms",
								List.of(Map.of("patchId", patch, "weight", weight)), "method", "sum")));
				compose.get();
				deletes.add(delete.get().code());
			}
		}
		finally {
			pool.shutdownNow();
		}
		assertThat(deletes).as("a delete answers 204 or 409, never 500").allMatch((code) -> code == 204 || code == 409);
	}

	@Test
	void aDeletedModelStopsServingInference() {
		String id = this.api.upload("/api/v1/models", multipart(Map.of("name", "deleted-digits-" + UUID.randomUUID(),
				"signature",
				Map.of("inputs", List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))),
						"outputs", List.of(Map.of("name", "logits", "datatype", "FP32", "shape", List.of(-1, 10))))))
			.file("weights", Fixtures.path("digits/base_v1.safetensors"))
			.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		Map<String, Object> request = Map.of("inputs", List
			.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(1, 1, 8, 8), "data", new float[64])));
		assertThat(this.api.postJson("/v2/models/" + id + "/infer", request).code()).isEqualTo(200);
		assertThat(this.api.delete("/api/v1/models/" + id).code()).isEqualTo(204);
		Response after = this.api.postJson("/v2/models/" + id + "/infer", request);
		assertThat(after.code()).as(new String(after.body())).isEqualTo(404);
	}

	private static <T> CompletableFuture<T> race(ExecutorService pool, CyclicBarrier start, Supplier<T> call) {
		return CompletableFuture.supplyAsync(() -> {
			try {
				start.await();
			}
			catch (Exception ex) {
				throw new IllegalStateException(ex);
			}
			return call.get();
		}, pool);
	}

	/** One F32 tensor of random values: content no other test stores. */
	private static byte[] randomSafetensors() {
		int count = 4096;
		String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[" + count + "],\"data_offsets\":[0," + (count * 4) + "]}}";
		while (json.length() % 8 != 0) {
			json += " ";
		}
		byte[] header = json.getBytes(StandardCharsets.US_ASCII);
		ByteBuffer buffer = ByteBuffer.allocate(8 + header.length + count * 4).order(ByteOrder.LITTLE_ENDIAN);
		buffer.putLong(header.length).put(header);
		for (int i = 0; i < count; i++) {
			buffer.putFloat(ThreadLocalRandom.current().nextFloat());
		}
		return buffer.array();
	}

}
