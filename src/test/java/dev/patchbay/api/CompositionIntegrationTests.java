package dev.patchbay.api;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.storage.StorageProperties;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

@IntegrationTest
class CompositionIntegrationTests {

	private static final Duration TIMEOUT = Duration.ofSeconds(10);

	@Autowired
	ApiClient api;

	@Autowired
	StorageProperties storage;

	@ParameterizedTest
	@ValueSource(strings = { "lora_llama", "rslora_llama", "dora_llama", "lora_gpt2_fan_in_fan_out", "lora_cnn_conv",
			"dora_cnn_conv" })
	void composingAPeftAdapterMatchesPeftMergeAndUnload(String fixture) {
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", fixture + "-base")).file("weights",
				Fixtures.path(fixture + "/base.safetensors")));
		String patch = this.api.uploadLora(fixture + "-adapter", fixture + "/adapter");
		Response created = this.api.postJson("/api/v1/compositions",
				Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch, "weight", 1.0))));
		assertThat(created.code()).as(created.json().toString()).isEqualTo(201);
		byte[] merged = this.api.get("/api/v1/compositions/" + created.json().get("id").asString() + "/weights").body();
		assertClose(Fixtures.floats(merged), Fixtures.floats(Fixtures.path(fixture + "/expected_merged.safetensors")),
				1e-5f);
	}

	@Test
	void doraAtWeightZeroIsExactlyTheBase() {
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "dora-zero-base")).file("weights",
				Fixtures.path("dora_llama/base.safetensors")));
		String patch = this.api.uploadLora("dora-zero", "dora_llama/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch, "weight", 0.0))));
		assertClose(Fixtures.floats(this.api.get("/api/v1/compositions/" + id + "/weights").body()),
				Fixtures.floats(Fixtures.path("dora_llama/base.safetensors")), 0f);
	}

	@ParameterizedTest
	@ValueSource(strings = { "sum:task_arithmetic", "magnitude_prune:magnitude_prune", "ties:ties" })
	void mergeOperatorsReproducePeftMergeUtils(String methodAndExpected) {
		String method = methodAndExpected.split(":")[0];
		Map<String, float[]> golden = Fixtures.floats(Fixtures.path("merge_utils_seed1/tensors.safetensors"));
		long[] shape = { 32, 48 };
		String base = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "zero-base-" + method)).bytes("weights", "zero.safetensors",
						Fixtures.f32(Map.of("layer.weight", shape), Map.of("layer.weight", new float[32 * 48]))));
		List<Map<String, Object>> terms = new ArrayList<>();
		for (int i = 0; i < 3; i++) {
			String patch = this.api
				.upload("/api/v1/patches", multipart(Map.of("kind", "diff", "name", "task-" + i + "-" + method)).bytes(
						"weights", "task.safetensors",
						Fixtures.f32(Map.of("layer.weight", shape), Map.of("layer.weight", golden.get("task_" + i)))));
			terms.add(Map.of("patchId", patch, "weight", (double) golden.get("weights")[i]));
		}
		Map<String, Object> recipe = new LinkedHashMap<>(Map.of("baseModelId", base, "terms", terms, "method", method));
		if (!method.equals("sum")) {
			recipe.put("density", 0.5);
		}
		String id = this.api.compose(recipe);
		float[] merged = Fixtures.floats(this.api.get("/api/v1/compositions/" + id + "/weights").body())
			.get("layer.weight");
		assertClose(Map.of("layer.weight", merged), Map.of("layer.weight", golden.get(methodAndExpected.split(":")[1])),
				1e-6f);
	}

	@Test
	void dareIsReproducibleFromItsSeedAndASeedChangesTheMask() {
		float[] values = new float[64 * 64];
		for (int i = 0; i < values.length; i++) {
			values[i] = (i % 7) - 3;
		}
		long[] shape = { 64, 64 };
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "dare-base")).bytes("weights",
				"b.safetensors", Fixtures.f32(Map.of("w", shape), Map.of("w", new float[64 * 64]))));
		String patch = this.api.upload("/api/v1/patches", multipart(Map.of("kind", "diff", "name", "dare-diff"))
			.bytes("weights", "d.safetensors", Fixtures.f32(Map.of("w", shape), Map.of("w", values))));
		Map<String, Object> recipe = new LinkedHashMap<>(Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", patch, "weight", 1.0)), "method", "dare_linear", "density", 0.5, "seed", 11));
		String first = this.api.compose(recipe);
		byte[] firstBytes = this.api.get("/api/v1/compositions/" + first + "/weights").body();
		this.api.awaitReady(first, TIMEOUT);
		assertThat(this.api.delete("/api/v1/compositions/" + first).code()).isEqualTo(204);
		String again = this.api.compose(recipe);
		assertThat(again).isNotEqualTo(first);
		assertThat(this.api.get("/api/v1/compositions/" + again + "/weights").body()).isEqualTo(firstBytes);
		recipe.put("seed", 12);
		byte[] otherSeed = this.api.get("/api/v1/compositions/" + this.api.compose(recipe) + "/weights").body();
		assertThat(otherSeed).isNotEqualTo(firstBytes);
		float[] kept = Fixtures.floats(firstBytes).get("w");
		long survivors = 0;
		for (int i = 0; i < kept.length; i++) {
			if (kept[i] != 0) {
				survivors++;
				assertThat(kept[i]).isEqualTo(values[i] * 2f);
			}
		}
		long nonZero = 0;
		for (float value : values) {
			nonZero += (value != 0) ? 1 : 0;
		}
		assertThat((double) survivors / nonZero).isBetween(0.45, 0.55);
	}

	@Test
	void identicalRecipesShareOneCompositionEvenWhenConcurrent() {
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "shared-base")).file("weights",
				Fixtures.path("lora_cnn_conv/base.safetensors")));
		String patch = this.api.uploadLora("shared-adapter", "lora_cnn_conv/adapter");
		Map<String, Object> recipe = Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", patch, "weight", 0.5)));
		List<CompletableFuture<Response>> requests = new ArrayList<>();
		for (int i = 0; i < 4; i++) {
			requests.add(CompletableFuture.supplyAsync(() -> this.api.postJson("/api/v1/compositions", recipe)));
		}
		List<Response> responses = requests.stream().map(CompletableFuture::join).toList();
		assertThat(responses).extracting((response) -> response.json().get("id").asString())
			.containsOnly(responses.get(0).json().get("id").asString());
		assertThat(responses).extracting(Response::code).containsOnlyOnce(201).contains(200);
		String id = responses.get(0).json().get("id").asString();
		byte[] first = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		JsonNode done = this.api.awaitReady(id, TIMEOUT);
		assertThat(done.get("progress").get("tensorsDone").asInt())
			.isEqualTo(done.get("progress").get("tensorsTotal").asInt());
		assertThat(done.get("progress").get("bytesDone").asLong()).isEqualTo(first.length);
		Response cached = this.api.get("/api/v1/compositions/" + id + "/weights", "Range", "bytes=0-7");
		assertThat(cached.code()).isEqualTo(206);
		assertThat(cached.body()).isEqualTo(java.util.Arrays.copyOf(first, 8));
	}

	@Test
	void aRecipeIsValidatedFromMetadataWithoutReadingAnyBlob() throws IOException {
		String base = model("blind-base", Fixtures.path("lora_llama/base.safetensors"));
		String lora = this.api.uploadLora("blind-lora", "lora_llama/adapter");
		String diff = this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", "blind-bad")).bytes("weights", "bad.safetensors", Fixtures
					.f32(Map.of("model.norm.weight", new long[] { 3 }), Map.of("model.norm.weight", new float[3]))));
		// No blob can be found, let alone read, while the recipes are checked.
		Path blobs = this.storage.root().resolve("sha256");
		Set<PosixFilePermission> permissions = Files.getPosixFilePermissions(blobs);
		Files.setPosixFilePermissions(blobs, Set.of());
		try {
			Response valid = this.api.postJson("/api/v1/compositions",
					Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 0.25))));
			assertThat(valid.code()).as(valid.json().toString()).isEqualTo(201);
			assertThat(valid.json().get("recipeDigest").asString()).hasSize(64);
			assertThat(valid.json().get("progress").get("tensorsTotal").asInt())
				.isEqualTo(Fixtures.shapes(Fixtures.path("lora_llama/base.safetensors")).size());
			assertThat(valid.json().get("progress").get("bytesTotal").asLong())
				.isGreaterThanOrEqualTo(Files.size(Fixtures.path("lora_llama/expected_merged.safetensors")));
			Response invalid = this.api.postJson("/api/v1/compositions",
					Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", diff))));
			assertThat(invalid.code()).isEqualTo(422);
			assertThat(invalid.json().get("problems").get(0).get("tensor").asString()).isEqualTo("model.norm.weight");
		}
		finally {
			Files.setPosixFilePermissions(blobs, permissions);
		}
	}

	@Test
	void materializedResultIsARegisteredModelWithLineage() {
		String base = model("mat-base", Fixtures.path("lora_llama/base.safetensors"));
		String patch = this.api.uploadLora("mat-adapter", "lora_llama/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch)), "materialize", true));
		byte[] streamed = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		JsonNode composition = this.api.awaitReady(id, TIMEOUT);
		String modelId = composition.get("resultModelId").asString();
		JsonNode model = this.api.get("/api/v1/models/" + modelId).json();
		assertThat(model.get("compositionId").asString()).isEqualTo(id);
		assertThat(model.get("lineage").valueStream().map((edge) -> edge.get("relation").asString()))
			.containsExactly("base", "patch");
		assertThat(this.api.get("/api/v1/models/" + modelId + "/weights").body()).isEqualTo(streamed);
		Response refused = this.api.delete("/api/v1/patches/" + patch);
		assertThat(refused.code()).as(new String(refused.body())).isEqualTo(409);
	}

	@Test
	void concurrentRequestsToMaterializeAReadyResultRegisterOneModel() {
		String base = model("mat-race-base", Fixtures.path("lora_llama/base.safetensors"));
		String patch = this.api.uploadLora("mat-race-adapter", "lora_llama/adapter");
		Map<String, Object> recipe = Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch)));
		String id = this.api.compose(recipe);
		this.api.awaitReady(id, TIMEOUT);
		Map<String, Object> materialized = new LinkedHashMap<>(recipe);
		materialized.put("materialize", true);
		List<CompletableFuture<Response>> requests = new ArrayList<>();
		for (int i = 0; i < 16; i++) {
			requests.add(CompletableFuture.supplyAsync(() -> this.api.postJson("/api/v1/compositions", materialized)));
		}
		for (CompletableFuture<Response> request : requests) {
			Response response = request.join();
			assertThat(response.code()).as(new String(response.body())).isEqualTo(200);
			assertThat(response.json().get("id").asString()).isEqualTo(id);
		}
		String modelId = this.api.get("/api/v1/compositions/" + id).json().get("resultModelId").asString();
		assertThat(modelId).isNotEmpty();
		JsonNode models = this.api.get("/api/v1/models?size=200").json().get("items");
		assertThat(models.valueStream()
			.filter((model) -> model.path("compositionId").asString("").equals(id))
			.map((model) -> model.get("id").asString())).containsExactly(modelId);
	}

	@Test
	void aRecipeIncompatibleInTwoTensorsGetsOne422NamingBoth() {
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "two-bad-base")).file("weights",
				Fixtures.path("lora_llama/base.safetensors")));
		String patch = this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", "two-bad")).bytes("weights", "bad.safetensors",
						Fixtures.f32(
								Map.of("model.norm.weight", new long[] { 3 }, "lm_head.weight", new long[] { 2, 2 }),
								Map.of("model.norm.weight", new float[3], "lm_head.weight", new float[4]))));
		Response response = this.api.postJson("/api/v1/compositions",
				Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch))));
		assertThat(response.code()).isEqualTo(422);
		assertThat(response.contentType()).isEqualTo("application/problem+json");
		assertThat(response.json().get("problems").valueStream().map((p) -> p.get("tensor").asString()))
			.containsExactlyInAnyOrder("model.norm.weight", "lm_head.weight");
		Response unknown = this.api.postJson("/api/v1/compositions",
				Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", UUID.randomUUID().toString()))));
		assertThat(unknown.code()).isEqualTo(404);
		Response badMethod = this.api.postJson("/api/v1/compositions",
				Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch)), "method", "ties"));
		assertThat(badMethod.code()).isEqualTo(400);
		assertThat(badMethod.json().get("field").asString()).isEqualTo("density");
	}

	@Test
	void mixesPatchKindsInOneRecipeAndPadsVocabularyRows() {
		Map<String, long[]> shapes = Fixtures.shapes(Fixtures.path("lora_llama/base.safetensors"));
		Map<String, float[]> tuned = Fixtures.floats(Fixtures.path("lora_llama/base.safetensors"));
		tuned.get("model.norm.weight")[3] += 1f;
		float[] embed = tuned.get("model.embed_tokens.weight");
		float[] grown = java.util.Arrays.copyOf(embed, embed.length + 2 * 64);
		java.util.Arrays.fill(grown, embed.length, grown.length, 0.5f);
		tuned.put("model.embed_tokens.weight", grown);
		Map<String, long[]> tunedShapes = new LinkedHashMap<>(shapes);
		tunedShapes.put("model.embed_tokens.weight", new long[] { 130, 64 });
		String base = model("mix-base", Fixtures.path("lora_llama/base.safetensors"));
		String finetuned = this.api.upload("/api/v1/models", multipart(Map.of("name", "mix-tuned")).bytes("weights",
				"tuned.safetensors", Fixtures.f32(tunedShapes, tuned)));
		Response diff = this.api.postJson("/api/v1/patches/diff",
				Map.of("name", "mix-diff", "baseModelId", base, "finetunedModelId", finetuned));
		assertThat(diff.code()).as(diff.json().toString()).isEqualTo(201);
		assertThat(diff.json().get("tensorCount").asInt()).as("all-zero deltas are left out").isEqualTo(2);
		String lora = this.api.uploadLora("mix-lora", "lora_llama/adapter");
		String id = this.api.compose(Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", lora), Map.of("patchId", diff.json().get("id").asString()))));
		Map<String, float[]> expected = Fixtures.floats(Fixtures.path("lora_llama/expected_merged.safetensors"));
		expected.get("model.norm.weight")[3] += 1f;
		float[] expectedEmbed = java.util.Arrays.copyOf(expected.get("model.embed_tokens.weight"), 130 * 64);
		java.util.Arrays.fill(expectedEmbed, 128 * 64, 130 * 64, 0.5f);
		expected.put("model.embed_tokens.weight", expectedEmbed);
		assertClose(Fixtures.floats(this.api.get("/api/v1/compositions/" + id + "/weights").body()), expected, 1e-5f);
	}

	@Test
	void aMergeThatWouldOverflowFloat32FailsNamingTheTensorAndStoresNothing() {
		String base = model("overflow-base", Fixtures.path("lora_llama/base.safetensors"));
		Map<String, float[]> huge = new LinkedHashMap<>();
		float[] values = new float[64];
		java.util.Arrays.fill(values, 1e30f);
		huge.put("model.norm.weight", values);
		String diff = this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", "overflow-diff", "baseModelId", base)).bytes("weights",
						"diff.safetensors", Fixtures.f32(Map.of("model.norm.weight", new long[] { 64 }), huge)));
		// Both numbers are finite in float32; their product is not.
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", diff, "weight", 1e9))));
		JsonNode composition = awaitFinished(id);
		assertThat(composition.get("status").asString()).isEqualTo("failed");
		assertThat(composition.get("error").get("type").asString()).endsWith("/composition-not-finite");
		assertThat(composition.get("error").get("detail").asString()).contains("'model.norm.weight'");
		assertThat(composition.get("error").get("tensor").asString()).as("the stored problem keeps its fields")
			.isEqualTo("model.norm.weight");
		assertThat(composition.get("resultModelId").isNull()).isTrue();
		assertThat(this.api.get("/api/v1/compositions/" + id + "/weights").code()).isEqualTo(409);
		// Opting out of the safe merge stores the result as computed: a new recipe.
		String unsafe = this.api.compose(Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", diff, "weight", 1e9)), "safeMerge", false));
		assertThat(unsafe).isNotEqualTo(id);
		this.api.awaitReady(unsafe, TIMEOUT);
		float[] norm = Fixtures.floats(this.api.get("/api/v1/compositions/" + unsafe + "/weights").body())
			.get("model.norm.weight");
		assertThat(norm).containsOnly(Float.POSITIVE_INFINITY);
	}

	private JsonNode awaitFinished(String id) {
		long deadline = System.nanoTime() + TIMEOUT.toNanos();
		JsonNode composition = this.api.get("/api/v1/compositions/" + id).json();
		while (composition.get("status").asString().matches("pending|running") && System.nanoTime() < deadline) {
			Thread.onSpinWait();
			composition = this.api.get("/api/v1/compositions/" + id).json();
		}
		return composition;
	}

	@Test
	void outputDtypeNarrowsEveryFloatTensor() {
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "bf16-base")).file("weights",
				Fixtures.path("lora_cnn_conv/base.safetensors")));
		String lora = this.api.uploadLora("bf16-lora", "lora_cnn_conv/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora)), "outputDtype", "BF16"));
		byte[] merged = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		JsonNode header = Fixtures.header(merged);
		long headerLength = java.nio.ByteBuffer.wrap(merged, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
		JsonNode fc1 = header.get("fc1.weight");
		assertThat(fc1.get("dtype").asString()).isEqualTo("BF16");
		float[] expected = Fixtures.floats(Fixtures.path("lora_cnn_conv/expected_merged.safetensors"))
			.get("fc1.weight");
		java.nio.ByteBuffer data = java.nio.ByteBuffer.wrap(merged).order(java.nio.ByteOrder.LITTLE_ENDIAN);
		int begin = (int) (8 + headerLength + fc1.get("data_offsets").get(0).asLong());
		for (int i = 0; i < expected.length; i++) {
			float got = Float.intBitsToFloat((data.getShort(begin + 2 * i) & 0xFFFF) << 16);
			assertThat(got).isCloseTo(expected[i],
					org.assertj.core.api.Assertions.within(Math.abs(expected[i]) / 128f + 1e-30f));
		}
	}

	private String model(String name, Path file) {
		return this.api.upload("/api/v1/models", multipart(Map.of("name", name)).file("weights", file));
	}

	static void assertClose(Map<String, float[]> actual, Map<String, float[]> expected, float tolerance) {
		assertThat(actual.keySet()).isEqualTo(expected.keySet());
		expected.forEach((name, values) -> {
			float[] got = actual.get(name);
			assertThat(got).as(name).hasSameSizeAs(values);
			float worst = 0;
			for (int i = 0; i < values.length; i++) {
				worst = Math.max(worst, Math.abs(got[i] - values[i]));
			}
			assertThat(worst).as("max abs error of " + name).isLessThanOrEqualTo(tolerance);
		});
	}

}
