package dev.patchbay.api;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The two LoRA layouts PEFT writes beyond linear factors, composed through HTTP and
 * checked against PEFT's merge written out here in plain loops: an adapter on an
 * embedding ({@code Embedding.get_delta_weight}: ΔW = (B·A)ᵀ·s with A [r, vocab] and B
 * [dim, r]), and {@code lora_bias} (the merged bias gains lora_B's bias times s).
 */
@IntegrationTest
class PeftLayoutsIntegrationTests {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final int VOCAB = 10;

	private static final int DIM = 4;

	private static final int HIDDEN = 6;

	private static final int RANK = 2;

	/** lora_alpha / r. */
	private static final float SCALE = 2f;

	@Autowired
	ApiClient api;

	@Test
	void anEmbeddingAdapterAndALoraBiasMergeAsPeftMergesThem() {
		Map<String, long[]> shapes = new LinkedHashMap<>();
		Map<String, float[]> base = new LinkedHashMap<>();
		put(shapes, base, "model.embed_tokens.weight", new long[] { VOCAB, DIM }, 0.1f);
		put(shapes, base, "model.layers.0.mlp.up_proj.weight", new long[] { HIDDEN, DIM }, 0.2f);
		put(shapes, base, "model.layers.0.mlp.up_proj.bias", new long[] { HIDDEN }, 0.3f);
		String model = this.api.upload("/api/v1/models", multipart(Map.of("name", "peft-layouts-base")).bytes("weights",
				"model.safetensors", Fixtures.f32(shapes, base)));

		String prefix = "base_model.model.model.";
		Map<String, long[]> adapterShapes = new LinkedHashMap<>();
		Map<String, float[]> adapter = new LinkedHashMap<>();
		put(adapterShapes, adapter, prefix + "embed_tokens.lora_embedding_A", new long[] { RANK, VOCAB }, 0.05f);
		put(adapterShapes, adapter, prefix + "embed_tokens.lora_embedding_B", new long[] { DIM, RANK }, -0.07f);
		put(adapterShapes, adapter, prefix + "layers.0.mlp.up_proj.lora_A.weight", new long[] { RANK, DIM }, 0.11f);
		put(adapterShapes, adapter, prefix + "layers.0.mlp.up_proj.lora_B.weight", new long[] { HIDDEN, RANK }, 0.13f);
		put(adapterShapes, adapter, prefix + "layers.0.mlp.up_proj.lora_B.bias", new long[] { HIDDEN }, -0.17f);
		Map<String, Object> config = new LinkedHashMap<>();
		config.put("peft_type", "LORA");
		config.put("r", RANK);
		config.put("lora_alpha", (int) (SCALE * RANK));
		config.put("target_modules", List.of("embed_tokens", "up_proj"));
		config.put("lora_bias", true);
		config.put("use_dora", false);
		config.put("use_rslora", false);
		config.put("fan_in_fan_out", false);
		String patch = this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "peft-layouts-lora"))
					.bytes("adapter_config", "adapter_config.json", JSON.writeValueAsBytes(config))
					.bytes("adapter_model", "adapter_model.safetensors", Fixtures.f32(adapterShapes, adapter)));

		String composition = this.api
			.compose(Map.of("baseModelId", model, "terms", List.of(Map.of("patchId", patch, "weight", 1.0))));
		Map<String, float[]> merged = Fixtures
			.floats(this.api.get("/api/v1/compositions/" + composition + "/weights").body());

		// Embedding: W[v, d] += s · Σ_r B[d, r] · A[r, v].
		float[] embedding = base.get("model.embed_tokens.weight").clone();
		float[] ea = adapter.get(prefix + "embed_tokens.lora_embedding_A");
		float[] eb = adapter.get(prefix + "embed_tokens.lora_embedding_B");
		for (int v = 0; v < VOCAB; v++) {
			for (int d = 0; d < DIM; d++) {
				double sum = 0;
				for (int r = 0; r < RANK; r++) {
					sum += eb[d * RANK + r] * ea[r * VOCAB + v];
				}
				embedding[v * DIM + d] += (float) (SCALE * sum);
			}
		}
		// Linear: W[o, i] += s · Σ_r B[o, r] · A[r, i]; bias[o] += s · b[o].
		float[] up = base.get("model.layers.0.mlp.up_proj.weight").clone();
		float[] a = adapter.get(prefix + "layers.0.mlp.up_proj.lora_A.weight");
		float[] b = adapter.get(prefix + "layers.0.mlp.up_proj.lora_B.weight");
		for (int o = 0; o < HIDDEN; o++) {
			for (int i = 0; i < DIM; i++) {
				double sum = 0;
				for (int r = 0; r < RANK; r++) {
					sum += b[o * RANK + r] * a[r * DIM + i];
				}
				up[o * DIM + i] += (float) (SCALE * sum);
			}
		}
		float[] bias = base.get("model.layers.0.mlp.up_proj.bias").clone();
		float[] loraBias = adapter.get(prefix + "layers.0.mlp.up_proj.lora_B.bias");
		for (int o = 0; o < HIDDEN; o++) {
			bias[o] += SCALE * loraBias[o];
		}

		assertThat(merged.get("model.embed_tokens.weight")).containsExactly(embedding, within(1e-6f));
		assertThat(merged.get("model.layers.0.mlp.up_proj.weight")).containsExactly(up, within(1e-6f));
		assertThat(merged.get("model.layers.0.mlp.up_proj.bias")).containsExactly(bias, within(1e-6f));
		assertThat(merged.get("model.embed_tokens.weight")).as("the adapter changed the embedding")
			.isNotEqualTo(base.get("model.embed_tokens.weight"));
	}

	/** A tensor of distinct values: value i is step · (i + 1) · (−1)^i. */
	private static void put(Map<String, long[]> shapes, Map<String, float[]> values, String name, long[] shape,
			float step) {
		int count = 1;
		for (long dimension : shape) {
			count *= (int) dimension;
		}
		float[] tensor = new float[count];
		for (int i = 0; i < count; i++) {
			tensor[i] = step * (i + 1) * ((i % 2 == 0) ? 1 : -1);
		}
		shapes.put(name, shape);
		values.put(name, tensor);
	}

}
