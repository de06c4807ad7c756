package dev.patchbay.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The official JS client {@code @huggingface/hub} (installed by the build from the
 * lockfile in {@code src/test/hub-client}) lists, downloads and parses the safetensors
 * metadata of a composition and of a LoRA patch through {@code hubUrl}. Skipped, saying
 * why, where node or the installed client is absent.
 */
@IntegrationTest
@TestPropertySource(properties = { "patchbay.composition.shard-size=" + FolderIntegrationTests.SHARD_SIZE,
		"patchbay.composition.poll-interval=" + FolderIntegrationTests.POLL_INTERVAL })
class HubClientIntegrationTests {

	private static final Path CLIENT = Path.of("target/hub-client");

	private static final JsonMapper JSON = JsonMapper.builder().build();

	@Autowired
	ApiClient api;

	@LocalServerPort
	int port;

	@Test
	void officialClientReadsACompositionAndALoraPatch() throws Exception {
		assumeTrue(nodeWorks(), "node is not installed: the @huggingface/hub client check is skipped");
		assumeTrue(Files.isDirectory(CLIENT.resolve("node_modules/@huggingface/hub")),
				"@huggingface/hub is not installed in target/hub-client (the build needs npm): skipped");
		String base = FolderIntegrationTests.uploadLlamaFolder(this.api, "js-llama");
		String lora = this.api.uploadLora("js-lora", "lora_llama/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 1.0))));
		String composition = "compositions/" + id;

		JsonNode seen = run(composition, "patchbay/js-lora");

		JsonNode composed = seen.get(composition);
		JsonNode listing = this.api.get("/api/v1/compositions/" + id + "/files").json();
		assertThat(composed.get("files")).hasSize(listing.size());
		for (JsonNode file : listing) {
			assertThat(composed.get("sha256").get(file.get("path").asString()).asString())
				.as(file.get("path").asString())
				.isEqualTo(file.get("sha256").asString());
		}
		assertThat(composed.get("sharded").asBoolean()).isTrue();
		assertThat(composed.get("filepaths").get(0).asString()).isEqualTo("model.safetensors.index.json");
		composed.get("formats").forEach((format) -> assertThat(format.asString()).isEqualTo("pt"));
		assertThat(fieldNames(composed.get("tensors"))).containsExactlyInAnyOrderElementsOf(
				Fixtures.shapes(Fixtures.path("lora_llama/base.safetensors")).keySet());

		JsonNode adapter = seen.get("patchbay/js-lora");
		assertThat(adapter.get("sha256").get("adapter_model.safetensors").asString())
			.isEqualTo(dev.patchbay.shared.Sha256
				.hex(Files.readAllBytes(Fixtures.path("lora_llama/adapter/adapter_model.safetensors"))));
		assertThat(adapter.get("sha256").get("adapter_config.json").asString()).isEqualTo(dev.patchbay.shared.Sha256
			.hex(Files.readAllBytes(Fixtures.path("lora_llama/adapter/adapter_config.json"))));
		assertThat(fieldNames(adapter.get("tensors")))
			.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
	}

	private JsonNode run(String... repos) throws IOException, InterruptedException {
		List<String> command = new ArrayList<>(List.of("node", "check.mjs", "http://localhost:" + this.port + "/hf",
				"hf_" + ApiClient.TEST_ADMIN_KEY));
		command.addAll(List.of(repos));
		Process process = new ProcessBuilder(command).directory(CLIENT.toFile())
			.redirectError(ProcessBuilder.Redirect.INHERIT)
			.start();
		byte[] out = process.getInputStream().readAllBytes();
		assertThat(process.waitFor(Duration.ofMinutes(2).toSeconds(), TimeUnit.SECONDS)).isTrue();
		assertThat(process.exitValue()).as(new String(out, StandardCharsets.UTF_8)).isZero();
		return JSON.readTree(out);
	}

	private static boolean nodeWorks() {
		try {
			Process process = new ProcessBuilder("node", "--version").redirectErrorStream(true).start();
			process.getInputStream().readAllBytes();
			return process.waitFor(30, TimeUnit.SECONDS) && process.exitValue() == 0;
		}
		catch (IOException ex) {
			return false;
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			return false;
		}
	}

	private static List<String> fieldNames(JsonNode object) {
		List<String> names = new ArrayList<>();
		object.properties().forEach((entry) -> names.add(entry.getKey()));
		return names;
	}

}
