package dev.patchbay.api;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
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
class RegistryIntegrationTests {

	@Autowired
	ApiClient api;

	@Autowired
	StorageProperties storage;

	@ParameterizedTest
	@ValueSource(strings = { "lora_llama/base.safetensors", "lora_gpt2_fan_in_fan_out/base.safetensors",
			"lora_cnn_conv/base.safetensors", "digits/base_v1.safetensors", "digits/base_v2.safetensors",
			"digits/robust_noise_v1.safetensors", "digits/robust_blur_v1.safetensors",
			"digits/finetuned_flip_v1.safetensors", "dora_llama/expected_merged.safetensors" })
	void uploadedModelManifestEqualsFileHeader(String fixture) {
		Path file = Fixtures.path(fixture);
		Response created = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", fixture, "family", "fixtures")).file("weights", file));
		assertThat(created.code()).as(created.json().toString()).isEqualTo(201);
		String id = created.json().get("id").asString();
		assertThat(created.header("Location")).singleElement().asString().endsWith("/api/v1/models/" + id);
		assertThat(manifestOf("/api/v1/models/" + id + "/tensors")).isEqualTo(Fixtures.manifest(file));
		JsonNode model = this.api.get("/api/v1/models/" + id).json();
		assertThat(model.get("sizeBytes").asLong()).isEqualTo(file.toFile().length());
		assertThat(model.get("files").get(0).get("sha256").asString()).hasSize(64);
	}

	@ParameterizedTest
	@ValueSource(strings = { "lora_llama/adapter", "rslora_llama/adapter", "dora_llama/adapter",
			"lora_gpt2_fan_in_fan_out/adapter", "lora_cnn_conv/adapter", "dora_cnn_conv/adapter",
			"digits/lora_flip_v2" })
	void uploadedAdapterManifestEqualsFileHeaderAndFitsItsBase(String fixture) {
		Path adapter = Fixtures.path(fixture + "/adapter_model.safetensors");
		String baseFixture = fixture.startsWith("digits") ? "digits/base_v2.safetensors"
				: fixture.replace("/adapter", "/base.safetensors");
		String baseId = createModel(fixture + "-base", Fixtures.path(baseFixture));
		Response created = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", fixture, "baseModelId", baseId))
					.file("adapter_config", Fixtures.path(fixture + "/adapter_config.json"))
					.file("adapter_model", adapter));
		assertThat(created.code()).as(created.json().toString()).isEqualTo(201);
		String id = created.json().get("id").asString();
		assertThat(created.json().get("kind").asString()).isEqualTo("lora");
		assertThat(manifestOf("/api/v1/patches/" + id + "/tensors")).isEqualTo(Fixtures.manifest(adapter));
		JsonNode report = this.api.get("/api/v1/patches/" + id + "/compatibility?modelId=" + baseId).json();
		assertThat(report.get("problems")).isEmpty();
		assertThat(report.get("compatible").asBoolean()).isTrue();
	}

	@Test
	void compatibilityListsEveryMismatchedTensorAtOnce() {
		String llama = createModel("llama-for-compat", Fixtures.path("lora_llama/base.safetensors"));
		String patch = createPatch("cnn-lora-on-llama", "lora_cnn_conv/adapter");
		JsonNode report = this.api.get("/api/v1/patches/" + patch + "/compatibility?modelId=" + llama).json();
		assertThat(report.get("compatible").asBoolean()).isFalse();
		assertThat(report.get("problems").valueStream().map((p) -> p.get("tensor").asString()))
			.containsExactlyInAnyOrder("conv1.weight", "conv2.weight", "fc1.weight");
	}

	@Test
	void compatibilityReportsShapeMismatchWithBothShapes() {
		String gpt2 = createModel("gpt2-for-compat", Fixtures.path("lora_gpt2_fan_in_fan_out/base.safetensors"));
		Response diff = this.api.postMultipart("/api/v1/patches", multipart(
				Map.of("kind", "diff", "name", "wrong-shape-diff"))
			.bytes("weights", "diff.safetensors", Fixtures.raw(
					"{\"transformer.h.0.attn.c_attn.weight\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,16]}}",
					new byte[16])));
		assertThat(diff.code()).isEqualTo(201);
		JsonNode problem = this.api
			.get("/api/v1/patches/" + diff.json().get("id").asString() + "/compatibility?modelId=" + gpt2)
			.json()
			.get("problems")
			.get(0);
		assertThat(problem.get("tensor").asString()).isEqualTo("transformer.h.0.attn.c_attn.weight");
		assertThat(problem.get("expectedShape").toString()).isEqualTo("[2,2]");
		assertThat(problem.get("actualShape").toString()).isEqualTo("[64,192]");
	}

	static Stream<Arguments> malformedFiles() {
		byte[] valid = Fixtures.raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]);
		return Stream.of(Arguments.of("empty file", new byte[0], null),
				Arguments.of("truncated file", Arrays.copyOf(valid, valid.length - 3), "w"),
				Arguments.of("header length beyond the file", Fixtures.raw(4096, "{}", new byte[0]), null),
				Arguments.of("header length 2^63-1", Fixtures.raw(Long.MAX_VALUE, "{}", new byte[0]), null),
				Arguments.of("header not JSON", Fixtures.raw("{\"w\": [1, 2", new byte[0]), null),
				Arguments.of("unknown dtype",
						Fixtures.raw("{\"w\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}", new byte[8]),
						"w"),
				Arguments.of("negative shape",
						Fixtures.raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", new byte[8]),
						"w"),
				Arguments.of("overflowing shape",
						Fixtures.raw(
								"{\"w\":{\"dtype\":\"F32\",\"shape\":[4611686018427387904,4],\"data_offsets\":[0,8]}}",
								new byte[8]),
						"w"),
				Arguments.of("overlapping offsets",
						Fixtures.raw(
								"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
										+ "\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
								new byte[12]),
						"b"),
				Arguments.of("offsets beyond EOF",
						Fixtures.raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[256],\"data_offsets\":[0,1024]}}",
								new byte[8]),
						"w"),
				Arguments.of("shape/size mismatch",
						Fixtures.raw("{\"w\":{\"dtype\":\"F32\",\"shape\":[2,2],\"data_offsets\":[0,8]}}", new byte[8]),
						"w"),
				Arguments.of("pickle file",
						new byte[] { (byte) 0x80, 0x04, (byte) 0x95, 0x10, 0, 0, 0, 0, 0, 0, 0, '}', (byte) 0x94, '.' },
						null));
	}

	@ParameterizedTest(name = "{0}")
	@MethodSource("malformedFiles")
	void rejectsMalformedSafetensorsAndLeavesNoTrace(String description, byte[] content, String tensor)
			throws IOException {
		long modelsBefore = countOf("/api/v1/models");
		List<Path> blobsBefore = blobFiles();
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "bad " + description)).bytes("weights", "bad.safetensors", content));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.contentType()).isEqualTo("application/problem+json");
		JsonNode problem = response.json();
		assertThat(problem.get("type").asString()).isEqualTo("https://patchbay.dev/problems/invalid-safetensors");
		assertThat(problem.get("file").asString()).isEqualTo("bad.safetensors");
		if (tensor != null) {
			assertThat(problem.get("tensor").asString()).isEqualTo(tensor);
		}
		assertThat(countOf("/api/v1/models")).isEqualTo(modelsBefore);
		assertThat(blobFiles()).isEqualTo(blobsBefore);
		assertThat(stagingFiles()).isEmpty();
	}

	@Test
	void rejectsAdapterWhoseRankContradictsItsTensorsAndLeavesNoTrace() throws IOException {
		long patchesBefore = countOf("/api/v1/patches");
		List<Path> blobsBefore = blobFiles();
		String config = Files.readString(Fixtures.path("lora_llama/adapter/adapter_config.json"))
			.replace("\"r\": 8", "\"r\": 4");
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "contradicting"))
					.bytes("adapter_config", "adapter_config.json", config.getBytes())
					.file("adapter_model", Fixtures.path("lora_llama/adapter/adapter_model.safetensors")));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.json().get("type").asString()).isEqualTo("https://patchbay.dev/problems/invalid-adapter");
		assertThat(response.json().get("problems")).hasSize(8);
		assertThat(response.json().get("problems").get(0).get("tensor").asString())
			.isEqualTo("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
		assertThat(countOf("/api/v1/patches")).isEqualTo(patchesBefore);
		assertThat(blobFiles()).isEqualTo(blobsBefore);
		assertThat(stagingFiles()).isEmpty();
	}

	@Test
	void rejectsAdapterWithATargetThatHasNoTensors() throws IOException {
		String config = Files.readString(Fixtures.path("lora_llama/adapter/adapter_config.json"))
			.replace("\"q_proj\"", "\"q_proj\", \"k_proj\"");
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "missing-target"))
					.bytes("adapter_config", "adapter_config.json", config.getBytes())
					.file("adapter_model", Fixtures.path("lora_llama/adapter/adapter_model.safetensors")));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.json().get("problems").get(0).get("field").asString()).isEqualTo("target_modules");
		assertThat(response.json().get("detail").asString()).contains("'k_proj'");
	}

	@Test
	void shardedModelDownloadsAsOneSafetensorsFile() {
		String a = "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
		String b = "{\"b\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}";
		byte[] aData = { 1, 2, 3, 4, 5, 6, 7, 8 };
		byte[] bData = { 9, 10, 11, 12, 13, 14, 15, 16 };
		String index = "{\"metadata\":{},\"weight_map\":{\"a\":\"model-1.safetensors\",\"b\":\"model-2.safetensors\"}}";
		Response created = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "sharded")).bytes("weights", "model-1.safetensors", Fixtures.raw(a, aData))
					.bytes("weights", "model-2.safetensors", Fixtures.raw(b, bData))
					.bytes("index", "model.safetensors.index.json", index.getBytes()));
		assertThat(created.code()).as(created.json().toString()).isEqualTo(201);
		Response weights = this.api.get("/api/v1/models/" + created.json().get("id").asString() + "/weights");
		byte[] body = weights.body();
		assertThat(Arrays.copyOfRange(body, body.length - 16, body.length))
			.isEqualTo(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 });
		assertThat(new String(body, 8, body.length - 24)).contains("\"a\"").contains("\"b\"");
		assertThat(Long.parseLong(weights.header("Content-Length").get(0))).isEqualTo(body.length);
	}

	@Test
	void shardsWithoutAnIndexAreRejected() {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "no-index"))
					.bytes("weights", "m1.safetensors", Fixtures.raw("{}", new byte[0]))
					.bytes("weights", "m2.safetensors", Fixtures.raw("{}", new byte[0])));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.json().get("field").asString()).isEqualTo("index");
	}

	@Test
	void deleteIsRefusedWhileAPatchReferencesTheModel() {
		String model = createModel("referenced", Fixtures.path("lora_llama/base.safetensors"));
		Response patch = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "referencing", "baseModelId", model))
					.file("adapter_config", Fixtures.path("lora_llama/adapter/adapter_config.json"))
					.file("adapter_model", Fixtures.path("lora_llama/adapter/adapter_model.safetensors")));
		Response refused = this.api.delete("/api/v1/models/" + model);
		assertThat(refused.code()).isEqualTo(409);
		assertThat(refused.json().get("referencedBy").get(0).asString()).isEqualTo("referencing");
		assertThat(this.api.delete("/api/v1/patches/" + patch.json().get("id").asString()).code()).isEqualTo(204);
		assertThat(this.api.delete("/api/v1/models/" + model).code()).isEqualTo(204);
		assertThat(this.api.get("/api/v1/models/" + model).code()).isEqualTo(404);
	}

	@Test
	void deletingTheLastUserOfABlobRemovesItButSharedBlobsStay() throws IOException {
		Path file = Files.createTempFile("shared-blob", ".safetensors");
		Files.write(file, Fixtures.raw(
				"{\"only-here-" + UUID.randomUUID() + "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}",
				new byte[] { 7 }));
		String first = createModel("shared-blob-1", file);
		String second = createModel("shared-blob-2", file);
		String digest = this.api.get("/api/v1/models/" + first).json().get("files").get(0).get("sha256").asString();
		this.api.delete("/api/v1/models/" + first);
		assertThat(blobFiles()).anyMatch((blob) -> blob.getFileName().toString().equals(digest));
		this.api.delete("/api/v1/models/" + second);
		assertThat(blobFiles()).noneMatch((blob) -> blob.getFileName().toString().equals(digest));
	}

	@Test
	void listsFilterByNameFamilyAndLabelWithPaging() {
		Path file = Fixtures.path("lora_cnn_conv/base.safetensors");
		for (int i = 0; i < 3; i++) {
			this.api.postMultipart("/api/v1/models", multipart(Map.of("name", "listed", "version", "v" + i, "family",
					"cnn-list", "labels", Map.of("team", (i == 0) ? "vision" : "audio")))
				.file("weights", file));
		}
		JsonNode page = this.api.get("/api/v1/models?family=cnn-list&size=2").json();
		assertThat(page.get("totalItems").asLong()).isEqualTo(3);
		assertThat(page.get("items")).hasSize(2);
		assertThat(page.get("totalPages").asInt()).isEqualTo(2);
		assertThat(this.api.get("/api/v1/models?name=listed&label=team=vision").json().get("totalItems").asLong())
			.isEqualTo(1);
		assertThat(this.api.get("/api/v1/models?family=cnn-list&label=team").json().get("totalItems").asLong())
			.isEqualTo(3);
		assertThat(this.api.get("/api/v1/models?size=0").code()).isEqualTo(400);
	}

	@Test
	void duplicateNameAndVersionIsAConflictAndLeavesNoTrace() throws IOException {
		Path file = Fixtures.path("lora_cnn_conv/base.safetensors");
		String existing = createModelVersioned("dup", "v1", file);
		List<Path> blobsBefore = blobFiles();
		Response again = this.api.postMultipart("/api/v1/models", multipart(Map.of("name", "dup", "version", "v1"))
			.file("weights", Fixtures.path("digits/base_v1.safetensors")));
		assertThat(again.code()).isEqualTo(409);
		assertThat(again.json().get("field").asString()).isEqualTo("metadata.name");
		assertThat(again.json().get("existingId").asString()).as("the artifact to use instead").isEqualTo(existing);
		assertThat(blobFiles()).isEqualTo(blobsBefore);
	}

	@Test
	void missingPartsAndInvalidMetadataNameTheField() {
		Response noWeights = this.api.postMultipart("/api/v1/models", multipart(Map.of("name", "x")));
		assertThat(noWeights.code()).isEqualTo(400);
		assertThat(noWeights.json().get("field").asString()).isEqualTo("weights");
		Response blankName = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", " ")).file("weights", Fixtures.path("lora_cnn_conv/base.safetensors")));
		assertThat(blankName.code()).isEqualTo(400);
		assertThat(blankName.json().get("field").asString()).isEqualTo("metadata.name");
		Response unknownModel = this.api.get("/api/v1/models/00000000-0000-0000-0000-000000000000");
		assertThat(unknownModel.code()).isEqualTo(404);
		assertThat(unknownModel.contentType()).isEqualTo("application/problem+json");
	}

	@Test
	void datasetsUploadAndReadBack() {
		Path file = Fixtures.path("digits/testset.safetensors");
		Response created = this.api.postMultipart("/api/v1/datasets",
				multipart(Map.of("name", "digits-test")).file("data", file));
		assertThat(created.code()).isEqualTo(201);
		assertThat(manifestOf("/api/v1/datasets/" + created.json().get("id").asString() + "/tensors"))
			.isEqualTo(Fixtures.manifest(file));
	}

	private Map<String, String> manifestOf(String path) {
		Map<String, String> manifest = new LinkedHashMap<>();
		this.api.get(path)
			.json()
			.forEach((t) -> manifest.put(t.get("name").asString(), t.get("dtype").asString() + t.get("shape")));
		return manifest;
	}

	private String createModel(String name, Path file) {
		return createModelVersioned(name, null, file);
	}

	private String createModelVersioned(String name, String version, Path file) {
		Map<String, Object> metadata = new LinkedHashMap<>();
		metadata.put("name", name);
		if (version != null) {
			metadata.put("version", version);
		}
		Response response = this.api.postMultipart("/api/v1/models", multipart(metadata).file("weights", file));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private String createPatch(String name, String adapterFixture) {
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", name))
					.file("adapter_config", Fixtures.path(adapterFixture + "/adapter_config.json"))
					.file("adapter_model", Fixtures.path(adapterFixture + "/adapter_model.safetensors")));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private long countOf(String path) {
		return this.api.get(path).json().get("totalItems").asLong();
	}

	private List<Path> blobFiles() throws IOException {
		try (Stream<Path> files = Files.walk(this.storage.root().resolve("sha256"))) {
			return files.filter(Files::isRegularFile).sorted().toList();
		}
	}

	/**
	 * Files staged under tmp: each process's staging area holds only its lock at rest.
	 */
	private List<Path> stagingFiles() throws IOException {
		try (Stream<Path> files = Files.walk(this.storage.root().resolve("tmp"))) {
			return files.filter(Files::isRegularFile)
				.filter((file) -> !file.getFileName().toString().equals(".lock"))
				.toList();
		}
	}

}
