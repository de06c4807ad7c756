package dev.patchbay.api;

import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * LoRA extraction over HTTP against the {@code mergekit_extract_lora} cases of
 * {@code methods_seed4}: the adapter's keys and config, its deltas B·A (never the
 * sign-ambiguous factors), the tensors saved whole, the energy report, and a composition
 * with the extracted patch.
 */
@IntegrationTest
class LoraExtractionIntegrationTests {

	private static final String DIR = "methods_seed4/";

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final double ATOL = 1e-5;

	private static final double RTOL = 1e-4;

	@Autowired
	ApiClient api;

	static Stream<Arguments> cases() {
		return Stream.of(Arguments.of("extract_lora_default", Map.of("rank", 8)),
				Arguments.of("extract_lora_sv_epsilon", Map.of("rank", 16, "svEpsilon", 0.001)),
				Arguments.of("extract_lora_embed_no_distribute",
						Map.of("rank", 4, "embeddings", true, "distributeScale", false)),
				Arguments.of("extract_lora_skip_undecomposable_exclude",
						Map.of("rank", 8, "skipUndecomposable", true, "exclude", List.of("up_proj"))));
	}

	@ParameterizedTest
	@MethodSource("cases")
	void extractsWhatMergekitExtractLoraExtracts(String fixture, Map<String, Object> options) {
		String[] models = models(fixture);
		Map<String, Object> request = new LinkedHashMap<>(options);
		request.put("name", fixture);
		request.put("baseModelId", models[0]);
		request.put("finetunedModelId", models[1]);
		Response created = this.api.postJson("/api/v1/patches/lora-extraction", request);
		assertThat(created.code()).as(created.json().toString()).isEqualTo(201);
		String patch = created.json().get("id").asString();
		assertThat(created.json().get("kind").asString()).isEqualTo("lora");

		JsonNode config = JSON.readTree(this.api.get("/api/v1/patches/" + patch + "/files/adapter_config.json").body());
		JsonNode expectedConfig = JSON
			.readTree(Fixtures.path(DIR + "cases/" + fixture + "/adapter/adapter_config.json").toFile());
		for (String field : List.of("base_model_name_or_path", "peft_type", "r", "lora_alpha", "rank_pattern",
				"alpha_pattern", "use_rslora", "fan_in_fan_out")) {
			assertThat(config.get(field)).as(field).isEqualTo(expectedConfig.get(field));
		}
		for (String field : List.of("target_modules", "modules_to_save")) {
			assertThat(strings(config.get(field))).as(field).isEqualTo(strings(expectedConfig.get(field)));
		}

		byte[] adapterBytes = this.api.get("/api/v1/patches/" + patch + "/files/adapter_model.safetensors").body();
		Map<String, float[]> adapter = Fixtures.floats(adapterBytes);
		Map<String, float[]> expectedAdapter = Fixtures
			.floats(Fixtures.path(DIR + "cases/" + fixture + "/adapter/adapter_model.safetensors"));
		assertThat(adapter.keySet()).isEqualTo(expectedAdapter.keySet());
		Map<String, float[]> expectedDelta = Fixtures
			.floats(Fixtures.path(DIR + "cases/" + fixture + "/expected_delta.safetensors"));
		Map<String, long[]> baseShapes = Fixtures.shapes(Fixtures.path(DIR + "inputs/extract_base.safetensors"));
		for (Map.Entry<String, float[]> expected : expectedDelta.entrySet()) {
			String module = expected.getKey().substring(0, expected.getKey().length() - ".weight".length());
			long[] shape = baseShapes.get(expected.getKey());
			float[] delta = delta(adapter, module, (int) shape[0], (int) (expected.getValue().length / shape[0]));
			assertWithin(delta, expected.getValue(), expected.getKey());
		}
		// Tensors saved whole are the fine-tuned ones, exactly.
		expectedAdapter.keySet()
			.stream()
			.filter((name) -> !name.contains(".lora_"))
			.forEach((name) -> assertThat(adapter.get(name)).as(name).containsExactly(expectedAdapter.get(name)));

		// The report names exactly the factored modules, each keeping part of its energy.
		Set<String> factored = new HashSet<>();
		created.json().get("extraction").forEach((module) -> {
			if (module.get("outcome").asString().equals("lora")) {
				factored.add(module.get("module").asString() + ".weight");
				assertThat(module.get("energyKept").asDouble()).isBetween(0.0, 1.0);
			}
		});
		assertThat(factored).isEqualTo(expectedDelta.keySet());
	}

	@Test
	void extractsFromADiffPatchAndTheExtractedPatchComposes() {
		String[] models = models("extract_from_diff");
		Response diff = this.api.postJson("/api/v1/patches/diff",
				Map.of("name", "extract-diff", "baseModelId", models[0], "finetunedModelId", models[1]));
		assertThat(diff.code()).as(diff.json().toString()).isEqualTo(201);
		Response created = this.api.postJson("/api/v1/patches/lora-extraction",
				Map.of("name", "extract-from-diff", "diffPatchId", diff.json().get("id").asString(), "rank", 8));
		assertThat(created.code()).as(created.json().toString()).isEqualTo(201);
		JsonNode report = created.json().get("extraction");
		Map<String, JsonNode> byModule = new LinkedHashMap<>();
		report.forEach((module) -> byModule.put(module.get("module").asString(), module));
		assertThat(byModule.get("model.layers.0.input_layernorm").get("outcome").asString())
			.isEqualTo("modules_to_save");
		assertThat(byModule.get("lm_head").get("outcome").asString()).isEqualTo("modules_to_save");
		JsonNode q = byModule.get("model.layers.0.self_attn.q_proj");
		assertThat(q.get("rank").asInt()).isEqualTo(8);
		// 1 − residual²/‖ΔW‖²: the residual is the fixture's Eckart–Young one.
		Map<String, float[]> base = Fixtures.floats(Fixtures.path(DIR + "inputs/extract_base.safetensors"));
		Map<String, float[]> tuned = Fixtures.floats(Fixtures.path(DIR + "inputs/extract_finetuned.safetensors"));
		String qWeight = "model.layers.0.self_attn.q_proj.weight";
		double energy = 0;
		for (int i = 0; i < base.get(qWeight).length; i++) {
			double d = (double) tuned.get(qWeight)[i] - base.get(qWeight)[i];
			energy += d * d;
		}
		double residual = 0.0005297206453486932;
		assertThat(q.get("energyKept").asDouble()).isCloseTo(1 - residual * residual / energy,
				org.assertj.core.api.Assertions.within(1e-6));
		assertThat(q.get("energyKept").asDouble()).isLessThan(1.0);

		// Composed onto the base, factored modules get base + B·A and their bias change.
		String id = this.api.compose(Map.of("baseModelId", models[0], "terms",
				List.of(Map.of("patchId", created.json().get("id").asString(), "weight", 1.0))));
		Map<String, float[]> merged = Fixtures.floats(this.api.get("/api/v1/compositions/" + id + "/weights").body());
		Map<String, float[]> expectedDelta = Fixtures
			.floats(Fixtures.path(DIR + "cases/extract_lora_default/expected_delta.safetensors"));
		float[] expectedQ = base.get(qWeight).clone();
		for (int i = 0; i < expectedQ.length; i++) {
			expectedQ[i] += expectedDelta.get(qWeight)[i];
		}
		assertWithin(merged.get(qWeight), expectedQ, qWeight);
		for (String whole : List.of("model.layers.0.mlp.up_proj.bias", "model.layers.0.input_layernorm.weight",
				"lm_head.weight", "model.embed_tokens.weight")) {
			assertWithin(merged.get(whole), tuned.get(whole), whole);
		}
	}

	@Test
	void aRankOfZeroIsRefusedNamingIt() {
		String[] models = models("extract_rank_zero");
		Response response = this.api.postJson("/api/v1/patches/lora-extraction",
				Map.of("name", "rank-zero", "baseModelId", models[0], "finetunedModelId", models[1], "rank", 0));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.json().get("field").asString()).isEqualTo("rank");
	}

	/** Uploads the base (named as the fixture's config says) and the fine-tuned model. */
	private String[] models(String test) {
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "extract_base", "version", test))
			.file("weights", Fixtures.path(DIR + "inputs/extract_base.safetensors")));
		String tuned = this.api.upload("/api/v1/models", multipart(Map.of("name", "extract-finetuned-" + test))
			.file("weights", Fixtures.path(DIR + "inputs/extract_finetuned.safetensors")));
		return new String[] { base, tuned };
	}

	/** s·B·A with s = 1 (alpha = rank), transposed back for an embedding. */
	private static float[] delta(Map<String, float[]> adapter, String module, int rows, int columns) {
		String prefix = "base_model.model." + module;
		boolean embedding = adapter.containsKey(prefix + ".lora_embedding_A");
		float[] a = adapter.get(prefix + (embedding ? ".lora_embedding_A" : ".lora_A.weight"));
		float[] b = adapter.get(prefix + (embedding ? ".lora_embedding_B" : ".lora_B.weight"));
		int outer = embedding ? columns : rows;
		int inner = embedding ? rows : columns;
		int rank = a.length / inner;
		float[] delta = new float[rows * columns];
		for (int o = 0; o < outer; o++) {
			for (int i = 0; i < inner; i++) {
				double sum = 0;
				for (int r = 0; r < rank; r++) {
					sum += b[o * rank + r] * a[r * inner + i];
				}
				delta[embedding ? i * columns + o : o * columns + i] = (float) sum;
			}
		}
		return delta;
	}

	private static Set<String> strings(JsonNode array) {
		Set<String> values = new HashSet<>();
		array.forEach((value) -> values.add(value.asString()));
		return values;
	}

	private static void assertWithin(float[] actual, float[] expected, String what) {
		assertThat(actual).as(what).hasSameSizeAs(expected);
		for (int i = 0; i < expected.length; i++) {
			assertThat(Math.abs(actual[i] - expected[i])).as(what + "[" + i + "]")
				.isLessThanOrEqualTo((float) (ATOL + RTOL * Math.abs(expected[i])));
		}
	}

}
