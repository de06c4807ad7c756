package dev.patchbay.api;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpMethod;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The Hub's read protocol under {@code /hf}, with the headers and error codes that
 * {@code huggingface_hub} and {@code @huggingface/hub} rely on.
 */
@IntegrationTest
@TestPropertySource(properties = { "patchbay.composition.shard-size=" + FolderIntegrationTests.SHARD_SIZE,
		"patchbay.composition.poll-interval=" + FolderIntegrationTests.POLL_INTERVAL })
class HubIntegrationTests {

	@Autowired
	ApiClient api;

	@Test
	void modelInfoTreeAndResolveFollowTheHub() {
		String v1 = this.api.upload("/api/v1/models", multipart(Map.of("name", "hub-model", "version", "v1"))
			.file("weights", Fixtures.path("lora_llama/base.safetensors")));
		String v2 = FolderIntegrationTests.uploadLlamaFolder(this.api, "hub-model-v2-source");
		assertThat(v2).isNotEqualTo(v1);
		String latest = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "hub-model", "version", "v2"))
					.file("weights", Fixtures.path("lora_llama/base.safetensors"))
					.bytes("files", "config.json", FolderIntegrationTests.CONFIG)
					.bytes("files", "nested/notes.txt", "hi".getBytes(StandardCharsets.UTF_8)));

		JsonNode main = this.api.get("/hf/api/models/patchbay/hub-model").json();
		assertThat(main.get("id").asString()).isEqualTo("patchbay/hub-model");
		assertThat(main.get("sha").asString()).matches("[0-9a-f]{40}");
		assertThat(paths(main.get("siblings"), "rfilename")).contains("config.json", "nested/notes.txt", "README.md");
		JsonNode first = this.api.get("/hf/api/models/patchbay/hub-model/revision/v1").json();
		assertThat(first.get("sha").asString()).isNotEqualTo(main.get("sha").asString());
		assertThat(paths(first.get("siblings"), "rfilename")).doesNotContain("config.json");
		JsonNode bySha = this.api.get("/hf/api/models/patchbay/hub-model/revision/" + main.get("sha").asString())
			.json();
		assertThat(bySha.get("sha").asString()).isEqualTo(main.get("sha").asString());

		JsonNode top = this.api.get("/hf/api/models/patchbay/hub-model/tree/main").json();
		assertThat(paths(top, "path")).contains("config.json", "nested").doesNotContain("nested/notes.txt");
		JsonNode all = this.api.get("/hf/api/models/patchbay/hub-model/tree/main?recursive=true").json();
		// Shards of 128 KB: the 363 KB model is sharded, as save_pretrained would shard
		// it.
		assertThat(paths(all, "path")).contains("nested/notes.txt", "model.safetensors.index.json")
			.doesNotContain("model.safetensors");
		assertThat(paths(this.api.get("/hf/api/models/patchbay/hub-model/tree/main/nested").json(), "path"))
			.containsExactly("nested/notes.txt");

		String file = "/hf/patchbay/hub-model/resolve/main/config.json";
		Response head = this.api.send(HttpMethod.HEAD, file);
		assertThat(head.code()).isEqualTo(200);
		assertThat(head.header("ETag")).singleElement().asString().startsWith("\"");
		assertThat(head.header("X-Repo-Commit")).containsExactly(main.get("sha").asString());
		assertThat(head.header("Content-Length")).containsExactly(String.valueOf(FolderIntegrationTests.CONFIG.length));
		assertThat(this.api.get(file).body()).isEqualTo(FolderIntegrationTests.CONFIG);
		Response probe = this.api.get("/hf/patchbay/hub-model/raw/v2/model-00001-of-00004.safetensors", "Range",
				"bytes=0-0");
		assertThat(probe.code()).isEqualTo(206);
		assertThat(probe.body()).hasSize(1);
		assertThat(probe.header("Content-Range")).singleElement().asString().startsWith("bytes 0-0/");
		assertThat(latest).isNotNull();
	}

	@Test
	void unknownReposRevisionsAndFilesGetTheHubErrorCodes() {
		this.api.upload("/api/v1/models",
				multipart(Map.of("name", "hub-errors")).file("weights", Fixtures.path("lora_llama/base.safetensors")));
		assertError(this.api.get("/hf/api/models/patchbay/no-such-model"), "RepoNotFound");
		assertError(this.api.get("/hf/patchbay/no-such-model/resolve/main/config.json"), "RepoNotFound");
		assertError(this.api.get("/hf/api/models/compositions/not-a-uuid"), "RepoNotFound");
		assertError(this.api.get("/hf/api/models/patchbay/hub-errors/revision/v9"), "RevisionNotFound");
		assertError(this.api.get("/hf/patchbay/hub-errors/resolve/main/config.json"), "EntryNotFound");
		// What the JS client's fileExists asks before it looks for the index instead.
		assertError(this.api.send(HttpMethod.HEAD, "/hf/patchbay/hub-errors/raw/main/model.safetensors"),
				"EntryNotFound");
	}

	@Test
	void keysMayCarryTheHubPrefixUnderHfOnly() {
		this.api.upload("/api/v1/models",
				multipart(Map.of("name", "hub-keys")).file("weights", Fixtures.path("lora_llama/base.safetensors")));
		ApiClient prefixed = this.api.withKey("hf_" + ApiClient.TEST_ADMIN_KEY);
		assertThat(prefixed.get("/hf/api/models/patchbay/hub-keys").code()).isEqualTo(200);
		assertThat(prefixed.get("/api/v1/models").code()).isEqualTo(401);
		assertThat(this.api.withKey("hf_wrong").get("/hf/api/models/patchbay/hub-keys").code()).isEqualTo(401);
		assertThat(this.api.withKey(null).get("/hf/api/models/patchbay/hub-keys").code()).isEqualTo(401);
	}

	@Test
	void aLoraPatchIsARepoOfItsPeftFiles() throws Exception {
		this.api.uploadLora("hub-lora", "lora_llama/adapter");
		JsonNode info = this.api.get("/hf/api/models/patchbay/hub-lora").json();
		assertThat(paths(info.get("siblings"), "rfilename")).contains("adapter_config.json",
				"adapter_model.safetensors");
		assertThat(this.api.get("/hf/patchbay/hub-lora/resolve/main/adapter_model.safetensors").body())
			.isEqualTo(Files.readAllBytes(Fixtures.path("lora_llama/adapter/adapter_model.safetensors")));
	}

	/**
	 * A resume as huggingface_hub sends it, Range with If-Range, over a real socket: the
	 * piece only while the validator is current, else the whole file again.
	 */
	@Test
	void resumeWithAStaleValidatorGetsTheWholeFile() throws Exception {
		this.api.uploadLora("hub-resume", "lora_llama/adapter");
		byte[] adapter = Files.readAllBytes(Fixtures.path("lora_llama/adapter/adapter_model.safetensors"));
		String file = "/hf/patchbay/hub-resume/resolve/main/adapter_model.safetensors";
		String etag = this.api.send(HttpMethod.HEAD, file).header("ETag").get(0);

		Response current = this.api.get(file, "Range", "bytes=100-", "If-Range", etag);
		assertThat(current.code()).isEqualTo(206);
		assertThat(current.body()).isEqualTo(Arrays.copyOfRange(adapter, 100, adapter.length));
		Response stale = this.api.get(file, "Range", "bytes=100-", "If-Range", "\"a-version-since-replaced\"");
		assertThat(stale.code()).isEqualTo(200);
		assertThat(stale.header("Content-Range")).isEmpty();
		assertThat(stale.body()).isEqualTo(adapter);
	}

	private static void assertError(Response response, String code) {
		assertThat(response.code()).isEqualTo(404);
		assertThat(response.header("X-Error-Code")).containsExactly(code);
	}

	private static List<String> paths(JsonNode entries, String field) {
		List<String> paths = new ArrayList<>();
		entries.forEach((entry) -> paths.add(entry.get(field).asString()));
		return paths;
	}

}
