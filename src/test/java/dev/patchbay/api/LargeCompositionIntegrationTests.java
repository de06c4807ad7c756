package dev.patchbay.api;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.SafetensorsWriter;
import dev.patchbay.support.AnonymousMemory;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Composes a 1 GiB model end to end through HTTP and checks that the anonymous memory it
 * adds to the process stays under half the model's size: memory is bounded by what is in
 * flight, not by model size. The bound is on the increase, not the total, because the
 * total depends on how many other test contexts this JVM holds and on how far the garbage
 * collector chooses to grow the heap (up to 300 MiB here).
 */
@IntegrationTest
class LargeCompositionIntegrationTests {

	private static final int TENSORS = 64;

	private static final int SIDE = 2048;

	private static final int RANK = 8;

	private static final long GIB = 1L << 30;

	@Autowired
	ApiClient api;

	@TempDir
	Path dir;

	@Test
	void composingAOneGibModelAddsLessThanHalfItsSizeInAnonymousMemory() throws Exception {
		Path base = writeBase();
		assertThat(Files.size(base)).isGreaterThanOrEqualTo(GIB);
		JsonNode model = this.api.uploadStreaming("/api/v1/models", Map.of("name", "one-gib"), "weights", base);
		assertThat(model.get("sizeBytes").asLong()).as(model.toString()).isEqualTo(Files.size(base));
		float[] a = values(RANK * SIDE, 7, 0.01f);
		float[] b = values(SIDE * RANK, 3, 0.02f);
		Map<String, long[]> shapes = new LinkedHashMap<>();
		Map<String, float[]> tensors = new LinkedHashMap<>();
		for (int t = 0; t < TENSORS; t++) {
			String module = "base_model.model.layers." + t + ".proj.";
			shapes.put(module + "lora_A.weight", new long[] { RANK, SIDE });
			tensors.put(module + "lora_A.weight", a);
			shapes.put(module + "lora_B.weight", new long[] { SIDE, RANK });
			tensors.put(module + "lora_B.weight", b);
		}
		Response adapter = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "one-gib-lora"))
					.bytes("adapter_config", "adapter_config.json",
							"{\"r\": 8, \"lora_alpha\": 16, \"target_modules\": [\"proj\"]}".getBytes())
					.bytes("adapter_model", "adapter_model.safetensors", Fixtures.f32(shapes, tensors)));
		assertThat(adapter.code()).as(adapter.json().toString()).isEqualTo(201);
		System.gc();
		long before = AnonymousMemory.current();
		float[] firstTensor = new float[SIDE * SIDE];
		long contentLength;
		long peak;
		try (AnonymousMemory memory = AnonymousMemory.sample()) {
			Response created = this.api.postJson("/api/v1/compositions",
					Map.of("baseModelId", model.get("id").asString(), "terms",
							List.of(Map.of("patchId", adapter.json().get("id").asString()))));
			assertThat(created.code()).isEqualTo(201);
			contentLength = this.api.download(
					"/api/v1/compositions/" + created.json().get("id").asString() + "/weights",
					(in) -> readFirstTensor(new DataInputStream(in), firstTensor));
			peak = memory.peak();
		}
		System.out.printf("RssAnon before compose: %d MiB, peak while composing and streaming 1 GiB: %d MiB%n",
				before >> 20, peak >> 20);
		assertThat(contentLength).isGreaterThanOrEqualTo(GIB);
		assertThat(peak - before).as("anonymous memory added while composing and streaming").isLessThan(GIB / 2);
		for (int o = 0; o < SIDE; o += 97) {
			for (int i = 0; i < SIDE; i += 89) {
				double delta = 0;
				for (int r = 0; r < RANK; r++) {
					delta += (double) b[o * RANK + r] * a[r * SIDE + i];
				}
				assertThat((double) firstTensor[o * SIDE + i]).isCloseTo(baseValue(0, o * SIDE + i) + 2.0 * delta,
						org.assertj.core.api.Assertions.within(1e-5));
			}
		}
	}

	/** Frees the gigabytes this test stored, once the composition has finished. */
	private void deleteWhenDone(String composition, String adapter, String model) {
		// 409 while it is still running.
		await("composition " + composition + " deleted").atMost(Duration.ofSeconds(30))
			.pollInterval(Duration.ofMillis(50))
			.until(() -> this.api.delete("/api/v1/compositions/" + composition).code() != 409);
		assertThat(this.api.delete("/api/v1/patches/" + adapter).code()).isEqualTo(204);
		assertThat(this.api.delete("/api/v1/models/" + model).code()).isEqualTo(204);
	}

	/** Reads the header, then the first tensor, then drains the rest. */
	private static void readFirstTensor(DataInputStream in, float[] out) {
		try {
			byte[] prefix = in.readNBytes(8);
			long headerLength = ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).getLong();
			in.skipNBytes(headerLength);
			byte[] data = in.readNBytes(out.length * 4);
			ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(out);
			byte[] sink = new byte[1 << 20];
			while (in.read(sink) >= 0) {
				// drain: the rest is only counted by Content-Length
			}
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	private Path writeBase() throws IOException {
		List<TensorSpec> specs = new ArrayList<>();
		for (int t = 0; t < TENSORS; t++) {
			specs.add(TensorSpec.of("layers." + t + ".proj.weight", DType.F32, SIDE, SIDE));
		}
		Path file = this.dir.resolve("base.safetensors");
		try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(file), 1 << 20);
				SafetensorsWriter writer = new SafetensorsWriter(out, specs, Map.of())) {
			ByteBuffer row = ByteBuffer.allocate(SIDE * 4).order(ByteOrder.LITTLE_ENDIAN);
			for (int t = 0; t < TENSORS; t++) {
				for (int r = 0; r < SIDE; r++) {
					row.clear();
					for (int c = 0; c < SIDE; c++) {
						row.putFloat(baseValue(t, r * SIDE + c));
					}
					writer.write(row.flip());
				}
			}
		}
		return file;
	}

	private static float baseValue(int tensor, int index) {
		return ((index * 31 + tensor) % 1000) / 1000f - 0.5f;
	}

	private static float[] values(int count, int stride, float scale) {
		float[] values = new float[count];
		for (int i = 0; i < count; i++) {
			values[i] = ((i * stride) % 17 - 8) * scale;
		}
		return values;
	}

}
