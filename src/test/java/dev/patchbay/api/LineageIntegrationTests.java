package dev.patchbay.api;

import java.io.IOException;
import java.nio.file.Files;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

/**
 * Continuous development lineage over HTTP: v1 → diff → v2 + diff (materialized) →
 * fine-tuned outside Patchbay, answered by one query.
 */
@IntegrationTest
class LineageIntegrationTests {

	@Autowired
	ApiClient api;

	@Test
	void oneQueryReturnsTheWholeChainFromAnExternalFineTuneBackToTheFirstVersion() throws Exception {
		String v1 = model("digits/base_v1.safetensors", null);
		String flip = model("digits/finetuned_flip_v1.safetensors", null);
		String v2 = model("digits/base_v2.safetensors", null);
		Response diff = this.api.postJson("/api/v1/patches/diff",
				Map.of("name", "lineage-diff", "baseModelId", v1, "finetunedModelId", flip));
		assertThat(diff.code()).as(diff.json().toString()).isEqualTo(201);
		String diffId = diff.json().get("id").asString();
		String composition = this.api.compose(Map.of("baseModelId", v2, "terms",
				List.of(Map.of("patchId", diffId, "weight", 1.0)), "materialize", true));
		JsonNode ready = this.api.awaitReady(composition, Duration.ofSeconds(60));
		String transferred = ready.get("resultModelId").asString();
		// The transferred model, fine-tuned further elsewhere and registered back.
		String tuned = model("digits/robust_blur_v1.safetensors", transferred);
		assertThat(this.api.get("/api/v1/models/" + tuned).json().get("lineage").get(0).get("relation").asString())
			.isEqualTo("finetune");

		Response response = this.api.get("/api/v1/models/" + tuned + "/lineage");
		assertThat(response.code()).as(response.json().toString()).isEqualTo(200);
		JsonNode lineage = response.json();
		assertThat(lineage.get("nodes").valueStream().map((node) -> node.get("id").asString()))
			.containsExactlyInAnyOrder(tuned, transferred, composition, v2, diffId, v1, flip);
		assertThat(lineage.get("nodes").get(0).get("id").asString()).isEqualTo(tuned);
		assertThat(lineage.get("edges")
			.valueStream()
			.map((edge) -> tuple(edge.get("from").asString(), edge.get("to").asString(),
					edge.get("relation").asString())))
			.containsExactlyInAnyOrder(tuple(transferred, tuned, "finetune"),
					tuple(composition, transferred, "materialized"), tuple(v2, composition, "base"),
					tuple(diffId, composition, "patch"), tuple(v1, diffId, "base"), tuple(flip, diffId, "finetuned"));
		JsonNode patchEdge = lineage.get("edges")
			.valueStream()
			.filter((edge) -> edge.get("relation").asString().equals("patch"))
			.findFirst()
			.orElseThrow();
		assertThat(patchEdge.get("weight").asDouble()).isEqualTo(1.0);
		Map<String, JsonNode> nodes = new HashMap<>();
		lineage.get("nodes").forEach((node) -> nodes.put(node.get("id").asString(), node));
		assertThat(nodes.get(v1).get("type").asString()).isEqualTo("model");
		assertThat(nodes.get(v1).get("digest").asString())
			.isEqualTo(sha256(Files.readAllBytes(Fixtures.path("digits/base_v1.safetensors"))));
		assertThat(nodes.get(diffId).get("type").asString()).isEqualTo("patch");
		assertThat(nodes.get(diffId).get("kind").asString()).isEqualTo("diff");
		assertThat(nodes.get(composition).get("type").asString()).isEqualTo("composition");
		assertThat(nodes.get(composition).get("digest").asString()).isEqualTo(ready.get("recipeDigest").asString());
		assertThat(nodes.get(composition).get("kind").asString()).isEqualTo("sum");

		// A root's lineage is itself alone.
		JsonNode root = this.api.get("/api/v1/models/" + v1 + "/lineage").json();
		assertThat(root.get("nodes")).hasSize(1);
		assertThat(root.get("edges")).isEmpty();
	}

	@Test
	void aParentThatDoesNotExistIsA404AndRegistersNothing() {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "orphan-finetune", "derivedFrom", "00000000-0000-0000-0000-000000000001"))
					.file("weights", Fixtures.path("digits/base_v1.safetensors")));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(404);
		assertThat(this.api.get("/api/v1/models?name=orphan-finetune").json().get("items")).isEmpty();
		assertThat(this.api.get("/api/v1/models/00000000-0000-0000-0000-000000000001/lineage").code()).isEqualTo(404);
	}

	@Test
	void onlyModelsAreDerivedByExternalFineTunes() {
		String base = model("digits/base_v1.safetensors", null);
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", "derived-patch", "derivedFrom", base)).file("weights",
						Fixtures.path("digits/base_v1.safetensors")));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(400);
		assertThat(response.json().get("field").asString()).isEqualTo("metadata.derivedFrom");
	}

	private String model(String fixture, String derivedFrom) {
		Map<String, Object> metadata = new LinkedHashMap<>(
				Map.of("name", fixture, "version", String.valueOf(System.nanoTime())));
		if (derivedFrom != null) {
			metadata.put("derivedFrom", derivedFrom);
		}
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(metadata).file("weights", Fixtures.path(fixture)));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private static String sha256(byte[] bytes) throws NoSuchAlgorithmException, IOException {
		return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
	}

}
