package dev.patchbay.api;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.shared.Sha256;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

@IntegrationTest
@TestPropertySource(properties = { "patchbay.composition.shard-size=" + FolderIntegrationTests.SHARD_SIZE,
		"patchbay.composition.poll-interval=" + FolderIntegrationTests.POLL_INTERVAL })
class FolderIntegrationTests {

	/** Small enough that the 363 KB test model takes several shards. */
	static final String SHARD_SIZE = "128KB";

	/**
	 * Sharded compositions are computed unit by unit, each claimed by a poll: polling
	 * often keeps these tests from waiting out the default interval between units.
	 */
	static final String POLL_INTERVAL = "100ms";

	static final Duration TIMEOUT = Duration.ofSeconds(20);

	static final byte[] CONFIG = """
			{"architectures": ["LlamaForCausalLM"], "hidden_size": 64, "num_hidden_layers": 2,
			 "vocab_size": 128, "model_type": "llama", "torch_dtype": "float32"}
			""".getBytes(StandardCharsets.UTF_8);

	static final byte[] TOKENIZER = "{\"version\": \"1.0\", \"model\": {\"type\": \"BPE\"}}"
		.getBytes(StandardCharsets.UTF_8);

	static final byte[] TOKENIZER_CONFIG = "{\"model_max_length\": 2048}".getBytes(StandardCharsets.UTF_8);

	private static final JsonMapper JSON = JsonMapper.builder().build();

	@Autowired
	ApiClient api;

	@Autowired
	JdbcClient jdbc;

	/**
	 * Uploads the tiny Llama as a Hugging Face folder: two shards, their index, a config
	 * and tokenizer files.
	 */
	static String uploadLlamaFolder(ApiClient api, String name) {
		Map<String, long[]> shapes = Fixtures.shapes(Fixtures.path("lora_llama/base.safetensors"));
		Map<String, float[]> values = Fixtures.floats(Fixtures.path("lora_llama/base.safetensors"));
		Map<String, long[]> first = new LinkedHashMap<>();
		Map<String, long[]> second = new LinkedHashMap<>();
		Map<String, String> weightMap = new TreeMap<>();
		shapes.forEach((tensor, shape) -> {
			boolean early = first.size() < shapes.size() / 2;
			(early ? first : second).put(tensor, shape);
			weightMap.put(tensor, early ? "model-00001-of-00002.safetensors" : "model-00002-of-00002.safetensors");
		});
		String index = "{\"metadata\": {}, \"weight_map\": " + toJson(weightMap) + "}";
		return api.upload("/api/v1/models",
				multipart(Map.of("name", name))
					.bytes("weights", "model-00001-of-00002.safetensors", Fixtures.f32(first, values))
					.bytes("weights", "model-00002-of-00002.safetensors", Fixtures.f32(second, values))
					.bytes("index", "model.safetensors.index.json", index.getBytes(StandardCharsets.UTF_8))
					.bytes("files", "config.json", CONFIG)
					.bytes("files", "tokenizer.json", TOKENIZER)
					.bytes("files", "tokenizer_config.json", TOKENIZER_CONFIG));
	}

	private static String toJson(Map<String, String> map) {
		List<String> entries = new ArrayList<>();
		map.forEach((key, value) -> entries.add("\"" + key + "\": \"" + value + "\""));
		return "{" + String.join(", ", entries) + "}";
	}

	@Test
	void composedFolderHasTheBaseFilesShardsThatJoinToTheMergeAndACard() throws IOException {
		String base = uploadLlamaFolder(this.api, "folder-llama");
		String lora = this.api.uploadLora("folder-llama-lora", "lora_llama/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 1.0))));
		JsonNode ready = this.api.awaitReady(id, TIMEOUT);
		String prefix = "/api/v1/compositions/" + id;

		Map<String, byte[]> files = downloadListedFiles(prefix);
		assertThat(files.keySet()).startsWith("config.json", "tokenizer.json", "tokenizer_config.json")
			.contains("model.safetensors.index.json", "README.md")
			.doesNotContain("model.safetensors");
		assertThat(files.get("config.json")).isEqualTo(CONFIG);
		assertThat(files.get("tokenizer.json")).isEqualTo(TOKENIZER);
		assertThat(files.get("tokenizer_config.json")).isEqualTo(TOKENIZER_CONFIG);

		JsonNode index = JSON.readTree(files.get("model.safetensors.index.json"));
		Map<String, float[]> joined = new TreeMap<>();
		List<String> shards = new ArrayList<>();
		index.get("weight_map").properties().forEach((entry) -> {
			if (!shards.contains(entry.getValue().asString())) {
				shards.add(entry.getValue().asString());
			}
		});
		assertThat(shards).hasSizeGreaterThan(2)
			.allMatch((shard) -> shard.matches("model-0000\\d-of-0000\\d\\.safetensors"));
		long totalSize = 0;
		for (String shard : shards) {
			byte[] bytes = files.get(shard);
			assertThat(Fixtures.header(bytes).path("__metadata__").path("format").asString()).isEqualTo("pt");
			Map<String, float[]> tensors = Fixtures.floats(bytes);
			tensors.keySet()
				.forEach((tensor) -> assertThat(index.get("weight_map").get(tensor).asString()).isEqualTo(shard));
			totalSize += tensors.values().stream().mapToLong((values) -> values.length * 4L).sum();
			joined.putAll(tensors);
		}
		assertThat(index.get("metadata").get("total_size").asLong()).isEqualTo(totalSize);
		Map<String, float[]> merged = new TreeMap<>(Fixtures.floats(this.api.get(prefix + "/weights").body()));
		assertThat(joined.keySet()).isEqualTo(merged.keySet());
		merged.forEach((tensor, values) -> assertThat(joined.get(tensor)).as(tensor).containsExactly(values));
		Map<String, float[]> expected = Fixtures.floats(Fixtures.path("lora_llama/expected_merged.safetensors"));
		expected.forEach((tensor, values) -> {
			float[] actual = joined.get(tensor);
			for (int i = 0; i < values.length; i++) {
				assertThat(actual[i]).as(tensor).isCloseTo(values[i], Offset.offset(1e-5f));
			}
		});

		String card = new String(files.get("README.md"), StandardCharsets.UTF_8);
		assertThat(card).startsWith("---\n")
			.contains("base_model: patchbay/folder-llama\n", "base_model_relation: merge\n",
					"library_name: transformers\n", "- patchbay\n")
			.contains(ready.get("recipeDigest").asString(), lora, "patchbay/folder-llama-lora");

		assertThat(untar(this.api.get(prefix + "/archive").body())).containsOnlyKeys(files.keySet())
			.allSatisfy((path, bytes) -> assertThat(bytes).as(path).isEqualTo(files.get(path)));
	}

	/**
	 * An instance that dies between recording a sharded composition's last unit and
	 * making it ready leaves it running with every unit in: the next poll of any instance
	 * finishes it. The dead instance is the row it would leave.
	 */
	@Test
	void aShardedCompositionWhoseUnitsAreAllInIsFinishedByThePoller() {
		String base = uploadLlamaFolder(this.api, "folder-finish-llama");
		String lora = this.api.uploadLora("folder-finish-lora", "lora_llama/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 1.0))));
		this.api.awaitReady(id, TIMEOUT);
		UUID composition = UUID.fromString(id);
		assertThat(
				this.jdbc.sql("select count(*) from composition_shard where composition_id = :id and status = 'READY'")
					.param("id", composition)
					.query(Integer.class)
					.single())
			.as("computed shard by shard")
			.isGreaterThan(2);
		this.jdbc.sql("update composition set status = 'RUNNING', finished_at = null where id = :id")
			.param("id", composition)
			.update();
		assertThat(this.api.awaitReady(id, TIMEOUT).get("status").asString()).isEqualTo("ready");
	}

	@Test
	void aShardIsServedByRangesAndItsListingIsKnownBeforeCompute() {
		String base = uploadLlamaFolder(this.api, "range-llama");
		String lora = this.api.uploadLora("range-llama-lora", "lora_llama/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 0.5))));
		JsonNode listing = this.api.get("/api/v1/compositions/" + id + "/files").json();
		String shard = listing.get(3).get("path").asString();
		long size = listing.get(3).get("size").asLong();
		Response probe = this.api.get("/api/v1/compositions/" + id + "/files/" + shard, "Range", "bytes=0-0");
		assertThat(probe.code()).isEqualTo(206);
		assertThat(probe.header("Content-Range")).containsExactly("bytes 0-0/" + size);
		this.api.awaitReady(id, TIMEOUT);
		byte[] whole = this.api.get("/api/v1/compositions/" + id + "/files/" + shard).body();
		assertThat(whole).hasSize((int) size);
		assertThat(this.api.get("/api/v1/compositions/" + id + "/files").json().get(3).get("sha256").asString())
			.isEqualTo(Sha256.hex(whole));
		assertThat(this.api.get("/api/v1/compositions/" + id + "/files/no/such.json").code()).isEqualTo(404);
	}

	@Test
	void uploadedModelIsAFolderAndItsJoinedDownloadKeepsFormatPt() {
		String model = uploadLlamaFolder(this.api, "plain-llama");
		Map<String, byte[]> files = downloadListedFiles("/api/v1/models/" + model);
		assertThat(files).containsKeys("config.json", "tokenizer.json", "model.safetensors.index.json", "README.md");
		assertThat(files.get("config.json")).isEqualTo(CONFIG);
		byte[] weights = this.api.get("/api/v1/models/" + model + "/weights").body();
		assertThat(Fixtures.header(weights).path("__metadata__").path("format").asString()).isEqualTo("pt");
		assertThat(new String(files.get("README.md"), StandardCharsets.UTF_8)).contains("library_name: transformers");
	}

	@Test
	void loraPatchIsAPeftFolderByteForByte() throws IOException {
		String lora = this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "peft-folder"))
					.file("adapter_config", Fixtures.path("lora_llama/adapter/adapter_config.json"))
					.file("adapter_model", Fixtures.path("lora_llama/adapter/adapter_model.safetensors"))
					.bytes("files", "README.md", "my adapter\n".getBytes(StandardCharsets.UTF_8)));
		Map<String, byte[]> files = downloadListedFiles("/api/v1/patches/" + lora);
		assertThat(files.keySet()).containsExactlyInAnyOrder("README.md", "adapter_config.json",
				"adapter_model.safetensors");
		assertThat(files.get("adapter_config.json"))
			.isEqualTo(Files.readAllBytes(Fixtures.path("lora_llama/adapter/adapter_config.json")));
		assertThat(files.get("adapter_model.safetensors"))
			.isEqualTo(Files.readAllBytes(Fixtures.path("lora_llama/adapter/adapter_model.safetensors")));
		assertThat(files.get("README.md")).asString().isEqualTo("my adapter\n");
		assertThat(this.api.get("/api/v1/patches/" + lora + "/weights").body())
			.isEqualTo(Files.readAllBytes(Fixtures.path("lora_llama/adapter/adapter_model.safetensors")));
	}

	@Test
	void diffPatchWeightsComeBackByteForByte() {
		byte[] diff = Fixtures.f32(Map.of("layer.weight", new long[] { 2, 3 }),
				Map.of("layer.weight", new float[] { 1, 2, 3, 4, 5, 6 }));
		String patch = this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", "diff-out")).bytes("weights", "diff.safetensors", diff));
		assertThat(this.api.get("/api/v1/patches/" + patch + "/weights").body()).isEqualTo(diff);
		assertThat(this.api.get("/api/v1/patches/" + patch + "/files/diff.safetensors").body()).isEqualTo(diff);
		String card = new String(this.api.get("/api/v1/patches/" + patch + "/files/README.md").body(),
				StandardCharsets.UTF_8);
		assertThat(card).contains("- diff\n");
	}

	@Test
	void refusesUnsafeOrMalformedFolderFiles() {
		byte[] weights = Fixtures.f32(Map.of("w", new long[] { 1 }), Map.of("w", new float[] { 1 }));
		Map<String, String> refused = Map.of("../escape.txt", "'..'", "/etc/passwd", "relative", "a//b.txt", "empty",
				"bad.json", "not valid JSON", "pickle.bin", "pickles", "shard.safetensors", "weights go");
		refused.forEach((path, reason) -> {
			byte[] content = path.endsWith(".json") ? "{nope".getBytes(StandardCharsets.UTF_8)
					: "x".getBytes(StandardCharsets.UTF_8);
			Response response = this.api.postMultipart("/api/v1/models",
					multipart(Map.of("name", "refused-" + path.hashCode())).bytes("weights", "w.safetensors", weights)
						.bytes("files", path, content));
			assertThat(response.code()).as(path).isEqualTo(400);
			assertThat(response.json().get("detail").asString()).as(path).contains(reason);
		});
		Response twice = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "refused-twice")).bytes("weights", "w.safetensors", weights)
					.bytes("files", "a.txt", new byte[1])
					.bytes("files", "a.txt", new byte[1]));
		assertThat(twice.code()).isEqualTo(400);
		assertThat(this.api.get("/api/v1/models?name=refused-twice").json().get("totalItems").asLong()).isZero();
	}

	/** Every listed file, downloaded, checked against its listed size and sha256. */
	private Map<String, byte[]> downloadListedFiles(String prefix) {
		Map<String, byte[]> files = new LinkedHashMap<>();
		for (JsonNode entry : this.api.get(prefix + "/files").json()) {
			String path = entry.get("path").asString();
			Response response = this.api.get(prefix + "/files/" + path);
			assertThat(response.code()).as(path).isEqualTo(200);
			assertThat(response.body()).as(path).hasSize(entry.get("size").asInt());
			assertThat(Sha256.hex(response.body())).as(path).isEqualTo(entry.get("sha256").asString());
			files.put(path, response.body());
		}
		return files;
	}

	private static Map<String, byte[]> untar(byte[] tar) throws IOException {
		Map<String, byte[]> entries = new LinkedHashMap<>();
		try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
			TarArchiveEntry entry;
			while ((entry = in.getNextEntry()) != null) {
				entries.put(entry.getName(), in.readAllBytes());
			}
		}
		return entries;
	}

}
