package dev.patchbay.api;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * mergekit's {@code slices} (frankenmerges): layer ranges of several models renumbered in
 * order, multi-source slices merged with the method, config.json's layer count updated,
 * and every problem of a bad recipe in one 422. Expected values are computed here from
 * the inputs with plain arithmetic.
 */
@IntegrationTest
class MergekitSlicesIntegrationTests {

	private static final Duration TIMEOUT = Duration.ofSeconds(20);

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final String[] LAYER_TENSORS = { "self_attn.q_proj.weight", "input_layernorm.weight" };

	@Autowired
	ApiClient api;

	private String prefix;

	/** Per model name, its id. */
	private final Map<String, String> ids = new LinkedHashMap<>();

	/** Per model name, its tensors. */
	private final Map<String, Map<String, float[]>> tensors = new LinkedHashMap<>();

	@BeforeEach
	void uploadModels() {
		this.prefix = "slices-" + System.nanoTime() + "-";
		upload("P", 1, 3);
		upload("Q", 2, 3);
		upload("R", 3, 3);
	}

	/**
	 * A three-layer llama-shaped model whose every value says where it comes from (model,
	 * layer, tensor, index), with a config.json.
	 */
	private void upload(String name, int model, int layers) {
		Map<String, long[]> shapes = new LinkedHashMap<>();
		Map<String, float[]> values = new LinkedHashMap<>();
		put(shapes, values, "model.embed_tokens.weight", new long[] { 8, 4 }, model, 9);
		for (int layer = 0; layer < layers; layer++) {
			put(shapes, values, "model.layers." + layer + "." + LAYER_TENSORS[0], new long[] { 4, 4 }, model, layer);
			put(shapes, values, "model.layers." + layer + "." + LAYER_TENSORS[1], new long[] { 4 }, model, layer);
		}
		put(shapes, values, "model.norm.weight", new long[] { 4 }, model, 7);
		put(shapes, values, "lm_head.weight", new long[] { 8, 4 }, model, 8);
		byte[] config = ("{\"architectures\": [\"LlamaForCausalLM\"], \"hidden_size\": 4, \"num_hidden_layers\": "
				+ layers + ", \"vocab_size\": 8}")
			.getBytes(StandardCharsets.UTF_8);
		this.ids.put(name,
				this.api.upload("/api/v1/models",
						multipart(Map.of("name", this.prefix + name, "version", "v1"))
							.bytes("weights", "model.safetensors", Fixtures.f32(shapes, values))
							.bytes("files", "config.json", config)));
		this.tensors.put(name, values);
	}

	private static void put(Map<String, long[]> shapes, Map<String, float[]> values, String tensor, long[] shape,
			int model, int layer) {
		int count = 1;
		for (long size : shape) {
			count *= (int) size;
		}
		float[] data = new float[count];
		for (int i = 0; i < count; i++) {
			data[i] = model * 100 + layer * 10 + (tensor.hashCode() & 3) + i * 0.01f;
		}
		shapes.put(tensor, shape);
		values.put(tensor, data);
	}

	private static Map<String, Object> source(String model, int from, int to) {
		return Map.of("modelId", model, "layerRange", List.of(from, to));
	}

	@Test
	void passthroughFrankenmergeRenumbersLayersAndUpdatesTheLayerCount() {
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "passthrough", "materialize", true,
				"slices", List.of(Map.of("sources", List.of(source(this.ids.get("P"), 0, 2))),
						// A source may be named by reference, as terms are.
						Map.of("sources", List.of(source(this.prefix + "Q@v1", 1, 3))),
						Map.of("sources", List.of(source(this.ids.get("P"), 2, 3)))));
		String id = compose(recipe);
		// The view lists the sources with their slice and range.
		JsonNode second = this.api.get("/api/v1/compositions/" + id).json().get("terms").get(1);
		assertThat(second.get("modelId").asString()).isEqualTo(this.ids.get("Q"));
		assertThat(second.get("slice").asInt()).isEqualTo(1);
		assertThat(second.get("layerRange").toString()).isEqualTo("[1,3]");
		// Materialized with each model once in its lineage.
		String model = this.api.get("/api/v1/compositions/" + id).json().get("resultModelId").asString();
		List<String> parents = new java.util.ArrayList<>();
		this.api.get("/api/v1/models/" + model)
			.json()
			.get("lineage")
			.forEach((edge) -> parents.add(edge.get("sourceId").asString()));
		assertThat(parents).containsExactly(this.ids.get("P"), this.ids.get("Q"));
		Map<String, float[]> out = Fixtures.floats(this.api.get("/api/v1/compositions/" + id + "/weights").body());
		// Output layer → (model, layer): P0, P1, Q1, Q2, P2.
		String[][] from = { { "P", "0" }, { "P", "1" }, { "Q", "1" }, { "Q", "2" }, { "P", "2" } };
		assertThat(out).hasSize(3 + 2 * from.length);
		for (int layer = 0; layer < from.length; layer++) {
			for (String tensor : LAYER_TENSORS) {
				assertThat(out.get("model.layers." + layer + "." + tensor)).as("layer %d %s", layer, tensor)
					.containsExactly(
							this.tensors.get(from[layer][0]).get("model.layers." + from[layer][1] + "." + tensor));
			}
		}
		// Embeddings from the first slice, norm and head from the last: both P.
		for (String tensor : List.of("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight")) {
			assertThat(out.get(tensor)).as(tensor).containsExactly(this.tensors.get("P").get(tensor));
		}
		JsonNode config = JSON.readTree(this.api.get("/api/v1/compositions/" + id + "/files/config.json").body());
		assertThat(config.get("num_hidden_layers").asInt()).isEqualTo(5);
		assertThat(config.get("hidden_size").asInt()).isEqualTo(4);

		// The same frankenmerge as mergekit YAML (its examples/orcamini-platy-44layer.yml
		// shape) gives the same weights.
		String yaml = """
				slices:
				  - sources:
				    - model: %1$sP
				      layer_range: [0, 2]
				  - sources:
				    - model: %1$sQ@v1
				      layer_range: [1, 3]
				  - sources:
				    - model: %1$sP
				      layer_range: [2, 3]
				merge_method: passthrough
				""".formatted(this.prefix);
		Response created = this.api.postRaw("/api/v1/compositions", "application/yaml",
				yaml.getBytes(StandardCharsets.UTF_8));
		assertThat(created.code()).as(new String(created.body(), StandardCharsets.UTF_8)).isIn(200, 201);
		assertThat(created.json().get("id").asString()).isEqualTo(id);
		assertReadsBackAsItself(id);
	}

	/** Its recipe.yaml, posted back, is the same recipe: the same composition. */
	private void assertReadsBackAsItself(String id) {
		Response exported = this.api.get("/api/v1/compositions/" + id + "/recipe.yaml");
		assertThat(exported.code()).isEqualTo(200);
		assertThat(new String(exported.body(), StandardCharsets.UTF_8)).contains("slices:", "layer_range:");
		Response again = this.api.postRaw("/api/v1/compositions", "application/yaml", exported.body());
		assertThat(again.code()).as(new String(again.body(), StandardCharsets.UTF_8)).isEqualTo(200);
		assertThat(again.json().get("id").asString()).isEqualTo(id);
	}

	@Test
	void mergesTheSourcesOfASliceWithTheMethodAndAGradientRestartingPerSlice() {
		Map<String, Object> weighted = new LinkedHashMap<>(source(this.ids.get("Q"), 1, 3));
		weighted.put("parameters", Map.of("weight", List.of(1, 3)));
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "linear", "slices", List.of(
				Map.of("sources",
						List.of(Map.of("modelId", this.ids.get("P"), "layerRange", List.of(0, 2), "parameters",
								Map.of("weight", 1)), weighted)),
				Map.of("sources", List.of(source(this.ids.get("R"), 0, 1)), "parameters", Map.of("weight", 1))));
		String id = compose(recipe);
		Map<String, float[]> out = Fixtures.floats(this.api.get("/api/v1/compositions/" + id + "/weights").body());
		Map<String, float[]> p = this.tensors.get("P");
		Map<String, float[]> q = this.tensors.get("Q");
		for (String tensor : LAYER_TENSORS) {
			// Slice 1, layers at t = 0 and t = 1: Q's weight is 1, then 3.
			for (int k = 0; k < 2; k++) {
				float[] a = p.get("model.layers." + k + "." + tensor);
				float[] b = q.get("model.layers." + (k + 1) + "." + tensor);
				double w = (k == 0) ? 1 : 3;
				float[] got = out.get("model.layers." + k + "." + tensor);
				for (int i = 0; i < a.length; i++) {
					assertThat((double) got[i]).isCloseTo((a[i] + w * b[i]) / (1 + w), within(1e-4));
				}
			}
			// Slice 2: R alone, renumbered to layer 2.
			assertThat(out.get("model.layers.2." + tensor))
				.containsExactly(this.tensors.get("R").get("model.layers.0." + tensor));
		}
		// Embeddings merged at t = 0 from the first slice's sources (weights 1 and 1).
		float[] embed = out.get("model.embed_tokens.weight");
		for (int i = 0; i < embed.length; i++) {
			assertThat((double) embed[i]).isCloseTo(
					(p.get("model.embed_tokens.weight")[i] + q.get("model.embed_tokens.weight")[i]) / 2.0,
					within(1e-4));
		}
		// The head from the last slice: R's.
		assertThat(out.get("lm_head.weight")).containsExactly(this.tensors.get("R").get("lm_head.weight"));
		JsonNode config = JSON.readTree(this.api.get("/api/v1/compositions/" + id + "/files/config.json").body());
		assertThat(config.get("num_hidden_layers").asInt()).isEqualTo(3);
	}

	/**
	 * mergekit's examples/gradient-slerp.yml says its slices are equivalent to the models
	 * syntax: both give the same weights here.
	 */
	@Test
	void composesMergekitsGradientSlerpExampleAsItsModelsEquivalent() {
		String head = """
				merge_method: slerp
				base_model: %1$sP
				parameters:
				  t:
				    - filter: self_attn
				      value: [0, 0.5, 0.3, 0.7, 1]
				    - filter: mlp
				      value: [1, 0.5, 0.7, 0.3, 0]
				    - value: 0.5 # fallback for rest of tensors
				dtype: float16
				""".formatted(this.prefix);
		String slices = head + """
				slices:
				  - sources:
				      - model: %1$sP
				        layer_range: [0, 3]
				      - model: %1$sQ
				        layer_range: [0, 3]
				""".formatted(this.prefix);
		String models = head + """
				models:
				  - model: %1$sP
				  - model: %1$sQ
				""".formatted(this.prefix);
		Response fromSlices = this.api.postRaw("/api/v1/compositions", "application/yaml",
				slices.getBytes(StandardCharsets.UTF_8));
		assertThat(fromSlices.code()).as(new String(fromSlices.body(), StandardCharsets.UTF_8)).isEqualTo(201);
		Response fromModels = this.api.postRaw("/api/v1/compositions", "application/yaml",
				models.getBytes(StandardCharsets.UTF_8));
		assertThat(fromModels.code()).as(new String(fromModels.body(), StandardCharsets.UTF_8)).isEqualTo(201);
		String a = fromSlices.json().get("id").asString();
		String b = fromModels.json().get("id").asString();
		this.api.awaitReady(a, TIMEOUT);
		this.api.awaitReady(b, TIMEOUT);
		Map<String, float[]> sliced = Fixtures.floats(this.api.get("/api/v1/compositions/" + a + "/weights").body());
		Map<String, float[]> whole = Fixtures.floats(this.api.get("/api/v1/compositions/" + b + "/weights").body());
		assertThat(sliced.keySet()).containsExactlyInAnyOrderElementsOf(whole.keySet());
		whole.forEach((tensor, values) -> assertThat(sliced.get(tensor)).as(tensor).containsExactly(values));
		assertReadsBackAsItself(a);
		// Not simply P: the middle layer's attention is half way (t = 0.5 at layer 1).
		assertThat(sliced.get("model.layers.1.self_attn.q_proj.weight"))
			.isNotEqualTo(this.tensors.get("P").get("model.layers.1.self_attn.q_proj.weight"));
	}

	@Test
	void refusesEverySliceProblemInOne422BeforeAnyCompute() {
		String p = this.ids.get("P");
		String q = this.ids.get("Q");
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "ties", "baseModelId", p, "slices",
				List.of(Map.of("sources", List.of(source(p, 0, 2), source(q, 1, 4))),
						Map.of("sources", List.of(source(p, 2, 2), source(q, 0, 1))),
						Map.of("sources", List.of(source(q, 0, 1), source(this.ids.get("R"), 1, 2))),
						Map.of("sources", List.of(source(p, 0, 1), source(q, 0, 1), source(q, 1, 2))),
						Map.of("sources", List.of())));
		Response refused = this.api.postJson("/api/v1/compositions", recipe);
		assertThat(refused.code()).isEqualTo(422);
		String detail = refused.json().get("detail").asString();
		assertThat(detail).contains("slices[1].sources[0].layerRange: [2, 2]",
				"slices[1].sources: every source must span the same number of layers",
				"slices[2].sources: must include the base model", "slices[3].sources[2].modelId",
				"slices[4].sources: must list at least one source");
		// Ranges past a model's layers are checked against the models, in one 422 too.
		Response beyond = this.api
			.postJson("/api/v1/compositions", Map.of("dialect", "mergekit", "method", "passthrough", "slices",
					List.of(Map.of("sources", List.of(source(q, 1, 4))), Map.of("sources", List.of(source(p, 2, 5))))));
		assertThat(beyond.code()).isEqualTo(422);
		assertThat(beyond.json().get("detail").asString()).contains(
				"slices[0].sources[0].layerRange: [1, 4] exceeds model " + q + "'s 3 layers",
				"slices[1].sources[0].layerRange: [2, 5] exceeds model " + p + "'s 3 layers");
		assertThat(this.api.get("/api/v1/compositions?status=pending").json().toString()).doesNotContain(p);
		// Curvature methods read each term's second moments, which slices do not map.
		Response ota = this.api.postJson("/api/v1/compositions", Map.of("dialect", "mergekit", "method", "ota",
				"baseModelId", p, "slices", List.of(Map.of("sources", List.of(source(p, 0, 1), source(q, 0, 1))))));
		assertThat(ota.code()).isEqualTo(422);
		assertThat(ota.json().get("detail").asString()).contains("method: ota takes terms with second moments");
	}

	private String compose(Map<String, Object> recipe) {
		Response created = this.api.postJson("/api/v1/compositions", recipe);
		assertThat(created.code()).as(new String(created.body(), StandardCharsets.UTF_8)).isIn(200, 201);
		String id = created.json().get("id").asString();
		this.api.awaitReady(id, TIMEOUT);
		return id;
	}

}
