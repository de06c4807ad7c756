package dev.patchbay.api;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Adapter algebra over HTTP against the {@code peft_add_weighted_adapter} cases of
 * {@code methods_seed4}: the combined adapter's delta s′·B′A′ per module, against PEFT's
 * (cat), PR #3111's (svd), or the exact sum where PEFT inherits rsLoRA's scaling.
 */
@IntegrationTest
class LoraCombinationIntegrationTests {

	private static final String DIR = "methods_seed4/";

	private static final JsonMapper JSON = JsonMapper.builder().build();

	@Autowired
	ApiClient api;

	static Stream<Arguments> cases() {
		return Stream.of(
				Arguments.of("peft_cat", List.of("ad1", "ad3"), List.of(1.0, 0.5), Map.of("combination", "cat"),
						"expected_delta", 1e-5),
				// PEFT inherits use_rslora (√8 too large); the exact sum is the target.
				Arguments.of("peft_cat_rslora_pair", List.of("ad_rs", "ad_rs2"), List.of(1.0, 1.0),
						Map.of("combination", "cat"), "source_delta", 1e-5),
				// Factor space as PEFT defines it, cross terms included.
				Arguments.of("peft_linear_factor_space", List.of("ad1", "ad2"), List.of(0.7, 0.3),
						Map.of("combination", "linear"), "expected_delta", 1e-5),
				Arguments.of("peft_linear_negative_weight", List.of("ad1", "ad2"), List.of(1.0, -0.5),
						Map.of("combination", "linear"), "expected_delta", 1e-5),
				Arguments.of("peft_svd", List.of("ad1", "ad2"), List.of(1.0, 0.5), Map.of("combination", "svd"),
						"expected_delta_pr3111", 1e-4),
				Arguments.of("peft_svd_full_rank", List.of("ad1", "ad2"), List.of(1.0, 0.5),
						Map.of("combination", "svd", "rank", 8), "expected_delta_pr3111", 1e-4),
				Arguments.of("peft_rslora_single_identity", List.of("ad_rs"), List.of(1.0),
						Map.of("combination", "svd"), "source_delta", 1e-4));
	}

	@ParameterizedTest
	@MethodSource("cases")
	void combinesAdaptersAsPeftAddWeightedAdapterWithoutItsBugs(String fixture, List<String> adapters,
			List<Double> weights, Map<String, Object> options, String expectedFile, double atol) {
		List<Map<String, Object>> terms = new ArrayList<>();
		for (int i = 0; i < adapters.size(); i++) {
			String patch = this.api.uploadLora(fixture + "-" + adapters.get(i),
					DIR + "inputs/adapters/" + adapters.get(i));
			terms.add(Map.of("patchId", patch, "weight", weights.get(i)));
		}
		Map<String, Object> request = new LinkedHashMap<>(options);
		request.put("name", fixture);
		request.put("terms", terms);
		Response created = this.api.postJson("/api/v1/patches/lora-combination", request);
		assertThat(created.code()).as(created.json().toString()).isEqualTo(201);
		String id = created.json().get("id").asString();
		JsonNode config = JSON.readTree(this.api.get("/api/v1/patches/" + id + "/files/adapter_config.json").body());
		assertThat(config.get("use_rslora").asBoolean()).isFalse();
		assertThat(config.get("r").asInt()).isEqualTo(config.get("lora_alpha").asInt());
		Map<String, float[]> adapter = Fixtures
			.floats(this.api.get("/api/v1/patches/" + id + "/files/adapter_model.safetensors").body());
		Map<String, long[]> adapterShapes = shapes(
				this.api.get("/api/v1/patches/" + id + "/files/adapter_model.safetensors").body());
		Map<String, float[]> expected = Fixtures
			.floats(Fixtures.path(DIR + "cases/" + fixture + "/" + expectedFile + ".safetensors"));
		Map<String, long[]> baseShapes = Fixtures.shapes(Fixtures.path(DIR + "inputs/lora_base.safetensors"));
		for (Map.Entry<String, float[]> entry : expected.entrySet()) {
			String module = entry.getKey().substring(0, entry.getKey().length() - ".weight".length());
			float[] delta = delta(adapter, adapterShapes, module, baseShapes.get(entry.getKey()));
			float[] want = entry.getValue();
			assertThat(delta).as(entry.getKey()).hasSameSizeAs(want);
			for (int i = 0; i < want.length; i++) {
				assertThat((double) Math.abs(delta[i] - want[i])).as(entry.getKey() + "[" + i + "]")
					.isLessThanOrEqualTo(atol + 1e-4 * Math.abs(want[i]));
			}
		}
	}

	@Test
	void aCombinationPeftDoesNotDefineIsRefusedNamingIt() {
		String patch = this.api.uploadLora("combination-unknown-ad1", DIR + "inputs/adapters/ad1");
		Response response = this.api.postJson("/api/v1/patches/lora-combination", Map.of("name", "unknown",
				"combination", "ties_svd", "terms", List.of(Map.of("patchId", patch, "weight", 1.0))));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.json().get("field").asString()).isEqualTo("combination");
	}

	@Test
	void doraAdaptersAreRefusedWith422() {
		String dora = this.api.uploadLora("combination-dora", "dora_llama/adapter");
		Response response = this.api.postJson("/api/v1/patches/lora-combination", Map.of("name", "dora-combined",
				"combination", "cat", "terms", List.of(Map.of("patchId", dora, "weight", 1.0))));
		assertThat(response.code()).isEqualTo(422);
		assertThat(response.json().get("field").asString()).isEqualTo("terms[0].patchId");
		assertThat(response.json().get("detail").asString()).contains("DoRA");
	}

	/** s′·B′A′ with s′ = 1, in the base weight's layout (transposed for embeddings). */
	private static float[] delta(Map<String, float[]> adapter, Map<String, long[]> shapes, String module,
			long[] baseShape) {
		String prefix = "base_model.model." + module;
		boolean embedding = adapter.containsKey(prefix + ".lora_embedding_A");
		String aName = prefix + (embedding ? ".lora_embedding_A" : ".lora_A.weight");
		float[] a = adapter.get(aName);
		float[] b = adapter.get(prefix + (embedding ? ".lora_embedding_B" : ".lora_B.weight"));
		int rank = (int) shapes.get(aName)[0];
		int inner = a.length / rank;
		int outer = b.length / rank;
		int columns = (int) (java.util.Arrays.stream(baseShape).reduce(1, (x, y) -> x * y) / baseShape[0]);
		float[] delta = new float[outer * inner];
		for (int o = 0; o < outer; o++) {
			for (int i = 0; i < inner; i++) {
				double sum = 0;
				for (int r = 0; r < rank; r++) {
					sum += b[o * rank + r] * a[r * inner + i];
				}
				delta[embedding ? i * columns + o : o * inner + i] = (float) sum;
			}
		}
		return delta;
	}

	private static Map<String, long[]> shapes(byte[] file) {
		long length = java.nio.ByteBuffer.wrap(file, 0, 8).order(java.nio.ByteOrder.LITTLE_ENDIAN).getLong();
		JsonNode header = JSON.readTree(new String(file, 8, (int) length, java.nio.charset.StandardCharsets.UTF_8));
		Map<String, long[]> shapes = new LinkedHashMap<>();
		header.properties().forEach((entry) -> {
			if (!entry.getKey().equals("__metadata__")) {
				shapes.put(entry.getKey(),
						entry.getValue().get("shape").valueStream().mapToLong(JsonNode::asLong).toArray());
			}
		});
		return shapes;
	}

}
