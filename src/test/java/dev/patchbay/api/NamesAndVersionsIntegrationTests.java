package dev.patchbay.api;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Registered names as MLflow and the Hub have them: auto-numbered versions, a latest,
 * aliases that move and resolve wherever an id is accepted, labels and a description that
 * change with a record of each change, and searches by part of a name, several labels and
 * an order.
 */
@IntegrationTest
class NamesAndVersionsIntegrationTests {

	private static final Duration TIMEOUT = Duration.ofSeconds(30);

	private static final Map<String, long[]> SHAPE = Map.of("w", new long[] { 2, 3 });

	@Autowired
	ApiClient api;

	@Test
	void versionsAreNumberedPerNameAndTheBareNameIsTheLatest() {
		String name = unique("numbered");
		String first = model(name, 1f, null);
		String second = model(name, 2f, null);
		String explicit = model(name, 3f, "v-explicit");
		JsonNode one = this.api.get("/api/v1/models/" + first).json();
		assertThat(one.get("version").asString()).isEqualTo("1");
		assertThat(one.get("versionNumber").asInt()).isEqualTo(1);
		JsonNode third = this.api.get("/api/v1/models/" + explicit).json();
		assertThat(third.get("version").asString()).isEqualTo("v-explicit");
		assertThat(third.get("versionNumber").asInt()).isEqualTo(3);

		assertThat(id("/api/v1/models/" + name)).isEqualTo(explicit);
		assertThat(id("/api/v1/models/" + name + "@latest")).isEqualTo(explicit);
		assertThat(id("/api/v1/models/" + name + "@2")).isEqualTo(second);
		assertThat(id("/api/v1/models/" + name + "@v-explicit")).isEqualTo(explicit);
		assertThat(id("/api/v1/models/" + name + "@3")).isEqualTo(explicit);
		Response missing = this.api.get("/api/v1/models/" + name + "@9");
		assertThat(missing.code()).isEqualTo(404);
		assertThat(missing.json().get("field").asString()).isEqualTo("id");
		assertThat(missing.json().get("reference").asString()).isEqualTo(name + "@9");

		Response at = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "has@at")).bytes("weights", "w.safetensors", weights(1f)));
		assertThat(at.code()).isEqualTo(400);
		assertThat(at.json().get("field").asString()).isEqualTo("metadata.name");
	}

	@Test
	void uploadsOfOneNameAtOnceGetConsecutiveVersions() throws Exception {
		String name = unique("concurrent");
		List<Thread> threads = new ArrayList<>();
		List<Integer> codes = java.util.Collections.synchronizedList(new ArrayList<>());
		for (int i = 0; i < 4; i++) {
			float scale = i;
			Thread thread = new Thread(
					() -> codes.add(this.api
						.postMultipart("/api/v1/models",
								multipart(Map.of("name", name)).bytes("weights", "w.safetensors", weights(scale)))
						.code()));
			thread.start();
			threads.add(thread);
		}
		for (Thread thread : threads) {
			thread.join();
		}
		assertThat(codes).containsOnly(201).hasSize(4);
		JsonNode versions = this.api.get("/api/v1/models?name=" + name + "&sort=version&order=asc").json();
		assertThat(versions.get("items").findValuesAsString("version")).containsExactly("1", "2", "3", "4");
	}

	@Test
	void aReaderKeyReadsAliasesButCannotMoveThem() {
		String name = unique("guarded");
		model(name, 1f, null);
		this.api.putJson("/api/v1/models/" + name + "/aliases/prod", Map.of("version", 1));
		String key = this.api.postJson("/api/v1/keys", Map.of("name", "names-reader", "role", "reader"))
			.json()
			.get("key")
			.asString();
		ApiClient reader = this.api.withKey(key);
		assertThat(reader.get("/api/v1/models/" + name + "/aliases/prod").code()).isEqualTo(200);
		assertThat(reader.putJson("/api/v1/models/" + name + "/aliases/prod", Map.of("version", 1)).code())
			.isEqualTo(403);
		assertThat(reader.patchJson("/api/v1/models/" + name, Map.of("description", "x")).code()).isEqualTo(403);
		assertThat(reader.delete("/api/v1/models/" + name + "/aliases/prod").code()).isEqualTo(403);
		assertThat(this.api.withKey(null).get("/api/v1/models/" + name + "/aliases").code()).isEqualTo(401);
	}

	@Test
	void movingAnAliasFromVersionOneToTwoChangesWhatItComposes() {
		String base = unique("alias-base");
		String delta = unique("alias-delta");
		model(base, 1f, null);
		model(base, 10f, null);
		patch(delta, 0.5f);
		patch(delta, 4f);
		assertThat(this.api.putJson("/api/v1/models/" + base + "/aliases/prod", Map.of("version", 1)).code())
			.isEqualTo(201);
		assertThat(this.api.putJson("/api/v1/patches/" + delta + "/aliases/prod", Map.of("version", "1")).code())
			.isEqualTo(201);
		Map<String, Object> recipe = Map.of("baseModelId", base + "@prod", "terms",
				List.of(Map.of("patchId", delta + "@prod", "weight", 0.5)));

		// w[i] = scale·(i + 1); θ' = θ_base + 0.5·Δ.
		assertComposes(recipe, 1f, 0.5f);
		Response moved = this.api.putJson("/api/v1/models/" + base + "/aliases/prod", Map.of("version", 2));
		assertThat(moved.code()).isEqualTo(200);
		assertThat(moved.json().get("version").asString()).isEqualTo("2");
		assertComposes(recipe, 10f, 0.5f);
		this.api.putJson("/api/v1/patches/" + delta + "/aliases/prod", Map.of("version", 2));
		assertComposes(recipe, 10f, 4f);

		// The same references resolve in the other places that take an id.
		String latestDelta = this.api.get("/api/v1/patches/" + delta).json().get("id").asString();
		assertThat(this.api.get("/api/v1/patches/" + delta + "@prod").json().get("id").asString())
			.isEqualTo(latestDelta);
		JsonNode compatibility = this.api.get("/api/v1/patches/" + delta + "@1/compatibility?modelId=" + base + "@prod")
			.json();
		assertThat(compatibility.get("compatible").asBoolean()).as(compatibility.toString()).isTrue();
		assertThat(this.api.get("/v2/models/" + base + "@prod").code()).isEqualTo(200);
		assertThat(this.api.get("/v2/models/" + base + "@nope").code()).isEqualTo(404);
		Response hub = this.api.get("/hf/api/models/patchbay/" + base + "/revision/prod");
		assertThat(hub.code()).isEqualTo(200);
	}

	@Test
	void derivationsNameTheirInputsByReference() {
		String name = unique("derived");
		String first = model(name, 1f, null);
		model(name, 10f, null);
		this.api.putJson("/api/v1/models/" + name + "/aliases/start", Map.of("version", 1));
		Response diff = this.api.postJson("/api/v1/patches/diff",
				Map.of("name", unique("derived-diff"), "baseModelId", name + "@start", "finetunedModelId", name));
		assertThat(diff.code()).as(new String(diff.body())).isEqualTo(201);
		assertThat(diff.json().get("baseModelId").asString()).isEqualTo(first);
		// Δ = θ₂ − θ₁ = (10 − 1)·(i + 1).
		float[] delta = Fixtures
			.floats(this.api.get("/api/v1/patches/" + diff.json().get("id").asString() + "/weights").body())
			.get("w");
		for (int i = 0; i < delta.length; i++) {
			assertThat(delta[i]).isCloseTo(9f * (i + 1), within(1e-5f));
		}
		assertProblem(this.api.postJson("/api/v1/patches/diff",
				Map.of("name", unique("derived-diff"), "baseModelId", name + "@gone", "finetunedModelId", name)), 404,
				"baseModelId");
	}

	@Test
	void aliasesAreListedShownOnTheirVersionAndRemoved() {
		String name = unique("aliased");
		String first = model(name, 1f, null);
		model(name, 2f, null);
		this.api.putJson("/api/v1/models/" + name + "/aliases/champion", Map.of("version", 1));
		this.api.putJson("/api/v1/models/" + name + "/aliases/prod", Map.of("version", "champion"));
		JsonNode aliases = this.api.get("/api/v1/models/" + name + "/aliases").json();
		assertThat(aliases.findValuesAsString("alias")).containsExactly("champion", "prod");
		assertThat(aliases.findValuesAsString("id")).containsOnly(first);
		JsonNode view = this.api.get("/api/v1/models/" + first).json();
		assertThat(view.get("aliases").valueStream().map(JsonNode::asString).toList()).containsExactly("champion",
				"prod");
		JsonNode listed = this.api.get("/api/v1/models?name=" + name + "&sort=version&order=asc").json();
		assertThat(listed.get("items").get(0).get("aliases")).hasSize(2);
		assertThat(listed.get("items").get(1).get("aliases")).isEmpty();
		assertThat(this.api.get("/api/v1/models/" + name + "/aliases/prod").json().get("version").asString())
			.isEqualTo("1");

		assertThat(this.api.delete("/api/v1/models/" + name + "/aliases/prod").code()).isEqualTo(204);
		assertThat(this.api.get("/api/v1/models/" + name + "/aliases/prod").code()).isEqualTo(404);
		assertThat(this.api.delete("/api/v1/models/" + name + "/aliases/prod").code()).isEqualTo(404);
		assertThat(this.api.get("/api/v1/models/" + name + "@prod").code()).isEqualTo(404);

		assertProblem(this.api.putJson("/api/v1/models/" + name + "/aliases/latest", Map.of("version", 1)), 400,
				"alias");
		assertProblem(this.api.putJson("/api/v1/models/" + name + "/aliases/7up", Map.of("version", 1)), 400, "alias");
		assertProblem(this.api.putJson("/api/v1/models/" + name + "/aliases/prod", Map.of("version", 9)), 404,
				"version");
		assertProblem(this.api.putJson("/api/v1/models/" + name + "/aliases/prod", Map.of()), 400, "version");
		assertProblem(this.api.putJson("/api/v1/models/" + name + "/aliases/prod", Map.of("version", 1, "x", 1)), 400,
				"x");
		assertProblem(this.api.putJson("/api/v1/models/" + unique("nobody") + "/aliases/prod", Map.of("version", 1)),
				404, "name");
		// A patch's aliases are its own: the model's name has none among patches.
		assertProblem(this.api.putJson("/api/v1/patches/" + name + "/aliases/prod", Map.of("version", 1)), 404, "name");
	}

	@Test
	void patchChangesLabelsAndDescriptionAndRecordsEachChange() {
		String name = unique("described");
		String id = this.api.upload("/api/v1/models",
				multipart(Map.of("name", name, "description", "first cut", "labels", Map.of("team", "a", "old", "x")))
					.bytes("weights", "w.safetensors", weights(1f)));
		assertThat(this.api.get("/api/v1/models/" + id).json().get("description").asString()).isEqualTo("first cut");

		Map<String, Object> labels = new LinkedHashMap<>();
		labels.put("team", "b");
		labels.put("old", null);
		labels.put("stage", "prod");
		Map<String, Object> change = new LinkedHashMap<>();
		change.put("labels", labels);
		change.put("description", "second cut");
		Response patched = this.api.patchJson("/api/v1/models/" + id, change);
		assertThat(patched.code()).as(new String(patched.body())).isEqualTo(200);
		JsonNode view = this.api.get("/api/v1/models/" + name).json();
		assertThat(view.get("labels").properties()).hasSize(2);
		assertThat(view.get("labels").get("team").asString()).isEqualTo("b");
		assertThat(view.get("labels").get("stage").asString()).isEqualTo("prod");
		assertThat(view.get("description").asString()).isEqualTo("second cut");

		Map<String, Object> clear = new LinkedHashMap<>();
		clear.put("description", null);
		assertThat(this.api.patchJson("/api/v1/models/" + name + "@1", clear).json().get("description").isNull())
			.isTrue();
		// Changing nothing records nothing.
		this.api.patchJson("/api/v1/models/" + id, Map.of("labels", Map.of("team", "b")));

		JsonNode changes = this.api.get("/api/v1/models/" + id + "/changes").json();
		assertThat(changes).hasSize(2);
		JsonNode first = changes.get(0);
		assertThat(first.get("role").asString()).isEqualTo("admin");
		assertThat(first.get("changedAt").asString()).isNotBlank();
		assertThat(first.get("changes").get("labels").get("before").get("old").asString()).isEqualTo("x");
		assertThat(first.get("changes").get("labels").get("after").has("old")).isFalse();
		assertThat(first.get("changes").get("labels").get("after").get("stage").asString()).isEqualTo("prod");
		assertThat(first.get("changes").get("description").get("before").asString()).isEqualTo("first cut");
		assertThat(first.get("changes").get("description").get("after").asString()).isEqualTo("second cut");
		assertThat(changes.get(1).get("changes").get("description").get("after").isNull()).isTrue();
		assertThat(changes.get(1).get("changes").has("labels")).isFalse();

		assertProblem(this.api.patchJson("/api/v1/models/" + id, Map.of("name", "renamed")), 400, "name");
		assertProblem(this.api.patchJson("/api/v1/models/" + id, Map.of("labels", Map.of("a=b", "c"))), 400,
				"labels.a=b");
		assertProblem(this.api.patchJson("/api/v1/models/" + id, Map.of("labels", Map.of("team", 3))), 400,
				"labels.team");
		assertThat(this.api.get("/api/v1/models/" + id + "/changes").json()).hasSize(2);
		assertThat(this.api.patchJson("/api/v1/models/" + UUID.randomUUID(), Map.of("description", "x")).code())
			.isEqualTo(404);

		String patch = patch(unique("described-patch"), 1f);
		assertThat(this.api.patchJson("/api/v1/patches/" + patch, Map.of("description", "a diff"))
			.json()
			.get("description")
			.asString()).isEqualTo("a diff");
		assertThat(this.api.get("/api/v1/patches/" + patch + "/changes").json()).hasSize(1);
	}

	@Test
	void searchesByPartOfANameSeveralLabelsAndAnOrder() {
		String prefix = unique("search");
		List<String> ids = new ArrayList<>();
		String[] names = { prefix + "-beta", prefix + "-Alpha", prefix + "-gamma" };
		for (int i = 0; i < names.length; i++) {
			ids.add(this.api.upload("/api/v1/models",
					multipart(Map.of("name", names[i], "labels",
							Map.of("team", (i == 1) ? "audio" : "vision", "tier", (i == 2) ? "gold" : "silver")))
						.bytes("weights", "w.safetensors", weights(i))));
		}
		String secondGamma = model(prefix + "-gamma", 5f, null);

		assertThat(names(this.api.get("/api/v1/models?namePrefix=" + prefix + "&sort=name").json()))
			.containsExactly(prefix + "-Alpha", prefix + "-beta", prefix + "-gamma", prefix + "-gamma");
		assertThat(names(this.api.get("/api/v1/models?namePrefix=" + prefix + "&sort=name&order=desc").json()))
			.containsExactly(prefix + "-gamma", prefix + "-gamma", prefix + "-beta", prefix + "-Alpha");
		// A substring, whatever its case; the exact name filter stays exact.
		assertThat(names(this.api.get("/api/v1/models?nameContains=" + prefix.toUpperCase() + "-AL").json()))
			.containsExactly(prefix + "-Alpha");
		assertThat(this.api.get("/api/v1/models?name=" + prefix).json().get("totalItems").asLong()).isZero();
		assertThat(this.api.get("/api/v1/models?namePrefix=" + prefix + "-A").json().get("totalItems").asLong())
			.isEqualTo(1);
		// Wildcards are literal.
		assertThat(this.api.get("/api/v1/models?nameContains=" + prefix.substring(0, 3) + "_")
			.json()
			.get("totalItems")
			.asLong()).isZero();

		JsonNode both = this.api
			.get("/api/v1/models?namePrefix=" + prefix + "&label=team=vision&label=tier=gold&sort=version")
			.json();
		assertThat(both.get("totalItems").asLong()).isEqualTo(1);
		assertThat(both.get("items").get(0).get("id").asString()).isEqualTo(ids.get(2));
		assertThat(this.api.get("/api/v1/models?namePrefix=" + prefix + "&label=team=vision&label=tier")
			.json()
			.get("totalItems")
			.asLong()).isEqualTo(2);

		JsonNode byVersion = this.api.get("/api/v1/models?namePrefix=" + prefix + "&sort=version&size=1").json();
		assertThat(byVersion.get("items").get(0).get("id").asString()).isEqualTo(secondGamma);
		assertThat(byVersion.get("totalPages").asInt()).isEqualTo(4);
		JsonNode oldest = this.api
			.get("/api/v1/models?namePrefix=" + prefix + "&sort=createdAt&order=asc&size=2&page=0")
			.json();
		assertThat(oldest.get("items").findValuesAsString("id")).containsExactly(ids.get(0), ids.get(1));
		JsonNode newest = this.api.get("/api/v1/models?namePrefix=" + prefix + "&size=2&page=1").json();
		assertThat(newest.get("items").findValuesAsString("id")).containsExactly(ids.get(1), ids.get(0));

		assertProblem(this.api.get("/api/v1/models?sort=size"), 400, "sort");
		assertProblem(this.api.get("/api/v1/models?order=up"), 400, "order");
	}

	@Test
	void aCompositionNamesItsResultAndEachResultIsTheNextVersion() {
		String base = unique("named-base");
		String delta = unique("named-delta");
		model(base, 1f, null);
		patch(delta, 2f);
		String result = unique("merged");
		String first = this.api.compose(Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", delta, "weight", 0.25)), "resultName", result));
		JsonNode ready = this.api.awaitReady(first, TIMEOUT);
		assertThat(ready.get("resultName").asString()).isEqualTo(result);
		assertThat(ready.get("materialize").asBoolean()).isTrue();
		JsonNode model = this.api.get("/api/v1/models/" + ready.get("resultModelId").asString()).json();
		assertThat(model.get("name").asString()).isEqualTo(result);
		assertThat(model.get("version").asString()).isEqualTo("1");
		assertThat(model.get("lineage")).isNotEmpty();

		String second = this.api.compose(Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", delta, "weight", 0.5)), "resultName", result));
		JsonNode next = this.api.awaitReady(second, TIMEOUT);
		assertThat(this.api.get("/api/v1/models/" + result).json().get("id").asString())
			.isEqualTo(next.get("resultModelId").asString());
		assertThat(this.api.get("/api/v1/models/" + result + "@2").json().get("id").asString())
			.isEqualTo(next.get("resultModelId").asString());
		// θ' = θ + 0.5·Δ with θ = i + 1 and Δ = 2·(i + 1).
		float[] merged = Fixtures.floats(this.api.get("/api/v1/models/" + result + "/weights").body()).get("w");
		for (int i = 0; i < merged.length; i++) {
			assertThat(merged[i]).isCloseTo((i + 1) * 2f, within(1e-6f));
		}

		// The same recipe shares one result: it cannot also go by another name.
		Response renamed = this.api.postJson("/api/v1/compositions", Map.of("baseModelId", base, "terms",
				List.of(Map.of("patchId", delta, "weight", 0.25)), "resultName", unique("other")));
		assertProblem(renamed, 409, "resultName");
		assertProblem(
				this.api.postJson("/api/v1/compositions",
						Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", delta)), "resultName", "a@b")),
				400, "resultName");
		assertProblem(
				this.api.postJson("/api/v1/compositions", Map.of("baseModelId", base, "terms",
						List.of(Map.of("patchId", delta)), "resultName", "x", "materialize", false)),
				400, "resultName");
		assertProblem(
				this.api.postJson("/api/v1/compositions",
						Map.of("baseModelId", base + "@gone", "terms", List.of(Map.of("patchId", delta)))),
				404, "baseModelId");
		assertProblem(
				this.api.postJson("/api/v1/compositions",
						Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", delta + "@gone")))),
				404, "terms[0].patchId");
	}

	private void assertComposes(Map<String, Object> recipe, float baseScale, float deltaScale) {
		String id = this.api.compose(recipe);
		this.api.awaitReady(id, TIMEOUT);
		float[] merged = Fixtures.floats(this.api.get("/api/v1/compositions/" + id + "/weights").body()).get("w");
		assertThat(merged).hasSize(6);
		for (int i = 0; i < merged.length; i++) {
			assertThat(merged[i]).isCloseTo(baseScale * (i + 1) + 0.5f * deltaScale * (i + 1), within(1e-5f));
		}
	}

	private void assertProblem(Response response, int status, String field) {
		assertThat(response.code()).as(new String(response.body())).isEqualTo(status);
		assertThat(response.contentType()).startsWith("application/problem+json");
		assertThat(response.json().get("field").asString()).as(new String(response.body())).isEqualTo(field);
	}

	private String id(String path) {
		Response response = this.api.get(path);
		assertThat(response.code()).as(path + ": " + new String(response.body())).isEqualTo(200);
		return response.json().get("id").asString();
	}

	private static List<String> names(JsonNode page) {
		return page.get("items").findValuesAsString("name");
	}

	private String model(String name, float scale, String version) {
		Map<String, Object> metadata = new LinkedHashMap<>();
		metadata.put("name", name);
		if (version != null) {
			metadata.put("version", version);
		}
		return this.api.upload("/api/v1/models", multipart(metadata).bytes("weights", "w.safetensors", weights(scale)));
	}

	private String patch(String name, float scale) {
		return this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", name)).bytes("weights", "delta.safetensors", weights(scale)));
	}

	/** w[i] = scale·(i + 1), shape [2, 3]. */
	private static byte[] weights(float scale) {
		float[] values = new float[6];
		for (int i = 0; i < values.length; i++) {
			values[i] = scale * (i + 1);
		}
		return Fixtures.f32(SHAPE, Map.of("w", values));
	}

	private static String unique(String name) {
		return name + "-" + UUID.randomUUID().toString().substring(0, 8);
	}

}
