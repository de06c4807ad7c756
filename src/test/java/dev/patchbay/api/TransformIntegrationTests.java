package dev.patchbay.api;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.IntStream;

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
 * Structural transforms and quantized export on a tiny Llama-shaped model built here;
 * every expected tensor is computed in the test by plain index arithmetic on the values
 * it uploaded, and quantized tensors are unpacked and dequantized here by the
 * compressed-tensors rules, never by the code under test.
 */
@IntegrationTest
class TransformIntegrationTests {

	static final int HIDDEN = 64;

	static final int HEADS = 8;

	static final int KV_HEADS = 4;

	static final int HEAD_DIM = 8;

	static final int INTERMEDIATE = 128;

	static final int LAYERS = 3;

	static final int VOCAB = 32;

	static final byte[] TOKENIZER = "{\"version\": \"1.0\"}".getBytes(StandardCharsets.UTF_8);

	private static final JsonMapper JSON = JsonMapper.builder().build();

	@Autowired
	ApiClient api;

	/**
	 * A tiny Llama: grouped attention (8 query heads over 4 key/value heads), 3 blocks.
	 */
	static Model llama(long seed) {
		Map<String, long[]> shapes = new LinkedHashMap<>();
		shapes.put("model.embed_tokens.weight", new long[] { VOCAB, HIDDEN });
		for (int i = 0; i < LAYERS; i++) {
			String p = "model.layers." + i + ".";
			shapes.put(p + "input_layernorm.weight", new long[] { HIDDEN });
			shapes.put(p + "self_attn.q_proj.weight", new long[] { HEADS * HEAD_DIM, HIDDEN });
			shapes.put(p + "self_attn.k_proj.weight", new long[] { KV_HEADS * HEAD_DIM, HIDDEN });
			shapes.put(p + "self_attn.v_proj.weight", new long[] { KV_HEADS * HEAD_DIM, HIDDEN });
			shapes.put(p + "self_attn.o_proj.weight", new long[] { HIDDEN, HEADS * HEAD_DIM });
			shapes.put(p + "post_attention_layernorm.weight", new long[] { HIDDEN });
			shapes.put(p + "mlp.gate_proj.weight", new long[] { INTERMEDIATE, HIDDEN });
			shapes.put(p + "mlp.up_proj.weight", new long[] { INTERMEDIATE, HIDDEN });
			shapes.put(p + "mlp.down_proj.weight", new long[] { HIDDEN, INTERMEDIATE });
		}
		shapes.put("model.norm.weight", new long[] { HIDDEN });
		shapes.put("lm_head.weight", new long[] { VOCAB, HIDDEN });
		return Model.random(shapes, seed);
	}

	static byte[] llamaConfig() {
		return ("{\"architectures\": [\"LlamaForCausalLM\"], \"model_type\": \"llama\", \"hidden_size\": " + HIDDEN
				+ ", \"intermediate_size\": " + INTERMEDIATE + ", \"num_attention_heads\": " + HEADS
				+ ", \"num_key_value_heads\": " + KV_HEADS + ", \"num_hidden_layers\": " + LAYERS
				+ ", \"layer_types\": [\"full_attention\", \"sliding_attention\", \"full_attention\"]"
				+ ", \"vocab_size\": " + VOCAB + ", \"torch_dtype\": \"float32\"}")
			.getBytes(StandardCharsets.UTF_8);
	}

	String upload(String name, Model model, byte[] config) {
		ApiClient.Multipart body = multipart(Map.of("name", name)).bytes("weights", "model.safetensors",
				Fixtures.f32(model.shapes(), model.values()));
		if (config != null) {
			body.bytes("files", "config.json", config).bytes("files", "tokenizer.json", TOKENIZER);
		}
		return this.api.upload("/api/v1/models", body);
	}

	JsonNode transform(String modelId, Map<String, ?> request) {
		Response response = this.api.postJson("/api/v1/models/" + modelId + "/transforms", request);
		assertThat(response.code()).as(new String(response.body(), StandardCharsets.UTF_8)).isEqualTo(201);
		return response.json();
	}

	Map<String, Stored> weights(String modelId) {
		return Stored.all(this.api.get("/api/v1/models/" + modelId + "/weights").body());
	}

	JsonNode config(String modelId) {
		return JSON.readTree(this.api.get("/api/v1/models/" + modelId + "/files/config.json").body());
	}

	@Test
	void dropsBlocksAndRenumbersTheRestContiguously() {
		Model model = llama(1);
		String source = upload("drop-source", model, llamaConfig());
		// The source named by reference, as on every model path.
		JsonNode created = transform("drop-source@latest",
				Map.of("kind", "drop_blocks", "blocks", List.of(1), "name", "dropped"));

		assertThat(created.get("transform").get("keptBlocks").toString()).isEqualTo("[0,2]");
		assertThat(created.get("lineage").get(0).get("sourceId").asString()).isEqualTo(source);
		assertThat(created.get("lineage").get(0).get("relation").asString()).isEqualTo("drop_blocks");
		String id = created.get("id").asString();
		Map<String, Stored> out = weights(id);
		// Nine tensors per block.
		assertThat(out).hasSize(model.shapes().size() - 9);
		assertThat(out.keySet()).noneMatch((name) -> name.startsWith("model.layers.2."));
		model.shapes().forEach((name, shape) -> {
			String expected = name.startsWith("model.layers.1.") ? null
					: name.replace("model.layers.2.", "model.layers.1.");
			if (expected != null) {
				assertThat(out.get(expected).f32()).as(expected).containsExactly(model.values().get(name));
				assertThat(out.get(expected).shape()).isEqualTo(shape);
			}
		});
		JsonNode config = config(id);
		assertThat(config.get("num_hidden_layers").asInt()).isEqualTo(2);
		assertThat(config.get("layer_types").toString()).isEqualTo("[\"full_attention\",\"full_attention\"]");
		assertThat(config.get("hidden_size").asInt()).isEqualTo(HIDDEN);
		assertThat(this.api.get("/api/v1/models/" + id + "/files/tokenizer.json").body()).isEqualTo(TOKENIZER);
	}

	@Test
	void refusesBlockPlansThatNameMissingBlocksOrLeaveNothingOrAGap() {
		String source = upload("drop-refusals", llama(2), llamaConfig());
		Response missing = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "drop_blocks", "blocks", List.of(1, 5, 7)));
		assertThat(missing.code()).isEqualTo(422);
		assertThat(missing.json().get("detail").asString()).contains("[5, 7]");
		Response everything = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "drop_blocks", "blocks", List.of(0, 1, 2)));
		assertThat(everything.code()).isEqualTo(422);
		Response foreign = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "drop_blocks", "blocks", List.of(1), "depth", 3));
		assertThat(foreign.code()).isEqualTo(400);
		assertThat(foreign.json().get("field").asString()).isEqualTo("depth");

		// A model whose blocks already have a gap (0 and 2, no 1) has no contiguous plan.
		Model gapped = llama(3);
		gapped.shapes().keySet().removeIf((name) -> name.startsWith("model.layers.1."));
		String gappedId = upload("gapped", gapped, llamaConfig());
		Response gap = this.api.postJson("/api/v1/models/" + gappedId + "/transforms",
				Map.of("kind", "drop_blocks", "blocks", List.of(0)));
		assertThat(gap.code()).isEqualTo(422);
		assertThat(gap.json().get("detail").asString()).contains("gap").contains("[1]");
		assertThat(this.api.get("/api/v1/models?name=drop-refusals-drop_blocks").json().get("totalItems").asLong())
			.isZero();
	}

	@Test
	void inheritsAStudentCuttingHeadsPerGroupAndKeepingTheStrongestNeurons() {
		Model model = llama(4);
		String source = upload("teacher", model, llamaConfig());
		int hidden = 32;
		int intermediate = 64;
		JsonNode created = transform(source,
				Map.of("kind", "inherit", "name", "student", "blocks", List.of(0, 2), "config",
						Map.of("hidden_size", hidden, "intermediate_size", intermediate, "num_attention_heads", 2,
								"num_key_value_heads", 2)));
		String id = created.get("id").asString();
		Map<String, Stored> out = weights(id);
		// Two key/value heads, one query head each: the first query head of groups 0
		// and 1 of the teacher (groups of 2), i.e. teacher heads 0 and 2.
		int[] queryRows = IntStream.concat(IntStream.range(0, 8), IntStream.range(16, 24)).toArray();
		assertThat(created.get("transform").get("keptQueryHeads").toString()).isEqualTo("[0,2]");
		for (int[] pair : new int[][] { { 0, 0 }, { 2, 1 } }) {
			String from = "model.layers." + pair[0] + ".";
			String to = "model.layers." + pair[1] + ".";
			assertThat(out.get(to + "self_attn.q_proj.weight").f32())
				.containsExactly(take(model.get(from + "self_attn.q_proj.weight"), HIDDEN, queryRows, range(hidden)));
			for (String kv : List.of("k_proj", "v_proj")) {
				assertThat(out.get(to + "self_attn." + kv + ".weight").f32()).containsExactly(
						take(model.get(from + "self_attn." + kv + ".weight"), HIDDEN, range(16), range(hidden)));
			}
			assertThat(out.get(to + "self_attn.o_proj.weight").shape()).containsExactly(hidden, 16);
			assertThat(out.get(to + "self_attn.o_proj.weight").f32()).containsExactly(
					take(model.get(from + "self_attn.o_proj.weight"), HEADS * HEAD_DIM, range(hidden), queryRows));
			// Neuron n's score: |gate[n,:]|² + |up[n,:]|² + |down[:,n]|², teacher widths.
			float[] gate = model.get(from + "mlp.gate_proj.weight");
			float[] up = model.get(from + "mlp.up_proj.weight");
			float[] down = model.get(from + "mlp.down_proj.weight");
			double[] score = new double[INTERMEDIATE];
			for (int n = 0; n < INTERMEDIATE; n++) {
				for (int c = 0; c < HIDDEN; c++) {
					score[n] += (double) gate[n * HIDDEN + c] * gate[n * HIDDEN + c]
							+ (double) up[n * HIDDEN + c] * up[n * HIDDEN + c]
							+ (double) down[c * INTERMEDIATE + n] * down[c * INTERMEDIATE + n];
				}
			}
			int[] neurons = IntStream.range(0, INTERMEDIATE)
				.boxed()
				.sorted(Comparator.comparingDouble((Integer n) -> -score[n]))
				.limit(intermediate)
				.mapToInt(Integer::intValue)
				.sorted()
				.toArray();
			assertThat(out.get(to + "mlp.gate_proj.weight").f32())
				.containsExactly(take(gate, HIDDEN, neurons, range(hidden)));
			assertThat(out.get(to + "mlp.up_proj.weight").f32())
				.containsExactly(take(up, HIDDEN, neurons, range(hidden)));
			assertThat(out.get(to + "mlp.down_proj.weight").f32())
				.containsExactly(take(down, INTERMEDIATE, range(hidden), neurons));
			assertThat(out.get(to + "input_layernorm.weight").f32())
				.containsExactly(Arrays.copyOf(model.get(from + "input_layernorm.weight"), hidden));
		}
		assertThat(out.keySet()).noneMatch((name) -> name.startsWith("model.layers.2."));
		assertThat(out.get("model.embed_tokens.weight").f32())
			.containsExactly(take(model.get("model.embed_tokens.weight"), HIDDEN, range(VOCAB), range(hidden)));
		assertThat(out.get("lm_head.weight").shape()).containsExactly(VOCAB, hidden);
		JsonNode config = config(id);
		assertThat(config.get("hidden_size").asInt()).isEqualTo(hidden);
		assertThat(config.get("intermediate_size").asInt()).isEqualTo(intermediate);
		assertThat(config.get("num_attention_heads").asInt()).isEqualTo(2);
		assertThat(config.get("num_key_value_heads").asInt()).isEqualTo(2);
		// 32 / 2 heads would imply head_dim 16; the heads kept their 8 rows.
		assertThat(config.get("head_dim").asInt()).isEqualTo(HEAD_DIM);
		assertThat(config.get("num_hidden_layers").asInt()).isEqualTo(2);
	}

	@Test
	void inheritsFromFusedProjectionsCuttingQkvAndGateUpConsistently() {
		// Phi-3 layout: qkv_proj rows are q (4 heads) | k (2 heads) | v (2 heads),
		// head_dim
		// 4; gate_up_proj rows are gate (8 neurons) | up (8 neurons).
		int hidden = 16;
		int intermediate = 8;
		Map<String, long[]> shapes = new LinkedHashMap<>();
		for (int i = 0; i < 3; i++) {
			String p = "model.layers." + i + ".";
			shapes.put(p + "self_attn.qkv_proj.weight", new long[] { (4 + 2 * 2) * 4, hidden });
			shapes.put(p + "self_attn.o_proj.weight", new long[] { hidden, 16 });
			shapes.put(p + "mlp.gate_up_proj.weight", new long[] { 2 * intermediate, hidden });
			shapes.put(p + "mlp.down_proj.weight", new long[] { hidden, intermediate });
		}
		Model model = Model.random(shapes, 14);
		byte[] config = ("{\"model_type\": \"phi3\", \"hidden_size\": 16, \"intermediate_size\": 8, "
				+ "\"num_attention_heads\": 4, \"num_key_value_heads\": 2, \"num_hidden_layers\": 3}")
			.getBytes(StandardCharsets.UTF_8);
		String source = upload("phi-teacher", model, config);
		Map<String, Object> request = Map.of("kind", "inherit", "name", "phi-student", "every", 2, "config",
				Map.of("hidden_size", 8, "intermediate_size", 4, "num_attention_heads", 2, "num_key_value_heads", 1));
		JsonNode created = transform(source, request);
		assertThat(created.get("transform").get("keptBlocks").toString()).isEqualTo("[0,2]");
		Map<String, Stored> out = weights(created.get("id").asString());
		// Key/value head 0 and its two query heads 0 and 1: q rows 0..7, k rows 16..19,
		// v rows 24..27.
		int[] qkvRows = IntStream
			.concat(IntStream.concat(IntStream.range(0, 8), IntStream.range(16, 20)), IntStream.range(24, 28))
			.toArray();
		float[] gateUp = model.get("model.layers.2.mlp.gate_up_proj.weight");
		float[] down = model.get("model.layers.2.mlp.down_proj.weight");
		double[] score = new double[intermediate];
		for (int n = 0; n < intermediate; n++) {
			for (int c = 0; c < hidden; c++) {
				score[n] += (double) gateUp[n * hidden + c] * gateUp[n * hidden + c]
						+ (double) gateUp[(intermediate + n) * hidden + c] * gateUp[(intermediate + n) * hidden + c]
						+ (double) down[c * intermediate + n] * down[c * intermediate + n];
			}
		}
		int[] neurons = IntStream.range(0, intermediate)
			.boxed()
			.sorted(Comparator.comparingDouble((Integer n) -> -score[n]))
			.limit(4)
			.mapToInt(Integer::intValue)
			.sorted()
			.toArray();
		int[] gateUpRows = IntStream.concat(IntStream.of(neurons), IntStream.of(neurons).map((n) -> n + intermediate))
			.toArray();
		assertThat(out.get("model.layers.1.self_attn.qkv_proj.weight").f32())
			.containsExactly(take(model.get("model.layers.2.self_attn.qkv_proj.weight"), hidden, qkvRows, range(8)));
		assertThat(out.get("model.layers.1.self_attn.o_proj.weight").f32())
			.containsExactly(take(model.get("model.layers.2.self_attn.o_proj.weight"), 16, range(8), range(8)));
		assertThat(out.get("model.layers.1.mlp.gate_up_proj.weight").f32())
			.containsExactly(take(gateUp, hidden, gateUpRows, range(8)));
		assertThat(out.get("model.layers.1.mlp.down_proj.weight").f32())
			.containsExactly(take(down, intermediate, range(8), neurons));
		// 8 / 2 heads still implies head_dim 4, so the config does not need to say it.
		JsonNode studentConfig = config(created.get("id").asString());
		assertThat(studentConfig.get("hidden_size").asInt()).isEqualTo(8);
		assertThat(studentConfig.has("head_dim")).isFalse();
		assertThat(studentConfig.get("num_hidden_layers").asInt()).isEqualTo(2);

		// The same name again is its next version; an explicit version taken is a 409
		// naming the model that has it.
		Response again = this.api.postJson("/api/v1/models/" + source + "/transforms", request);
		assertThat(again.code()).isEqualTo(201);
		assertThat(again.json().get("versionNumber").asInt()).isEqualTo(created.get("versionNumber").asInt() + 1);
		Map<String, Object> taken = new java.util.LinkedHashMap<>(request);
		taken.put("version", created.get("version").asString());
		Response conflict = this.api.postJson("/api/v1/models/" + source + "/transforms", taken);
		assertThat(conflict.code()).isEqualTo(409);
		assertThat(conflict.json().get("existingId").asString()).isEqualTo(created.get("id").asString());
	}

	@Test
	void refusesAStudentWhoseGroupsDoNotFitTheTeacher() {
		String source = upload("teacher-refusals", llama(5), llamaConfig());
		Response wider = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "inherit", "config", Map.of("hidden_size", 2 * HIDDEN)));
		assertThat(wider.code()).isEqualTo(400);
		assertThat(wider.json().get("field").asString()).isEqualTo("config.hidden_size");
		// 4 query heads on 1 key/value head: groups of 4, but the teacher's are 2.
		Response groups = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "inherit", "config", Map.of("num_attention_heads", 4, "num_key_value_heads", 1)));
		assertThat(groups.code()).isEqualTo(400);
		Response missing = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "inherit", "blocks", List.of(0, 3)));
		assertThat(missing.code()).isEqualTo(422);
		assertThat(missing.json().get("detail").asString()).contains("[3]");
		String bare = upload("no-config", llama(6), null);
		Response noConfig = this.api.postJson("/api/v1/models/" + bare + "/transforms",
				Map.of("kind", "inherit", "blocks", List.of(0)));
		assertThat(noConfig.code()).isEqualTo(422);
	}

	static Model convNet(long seed) {
		Map<String, long[]> shapes = new LinkedHashMap<>();
		shapes.put("stem.conv.weight", new long[] { 4, 3, 3, 3 });
		shapes.put("stem.conv.bias", new long[] { 4 });
		shapes.put("head.fc.weight", new long[] { 2, 4 });
		return Model.random(shapes, seed);
	}

	@Test
	void inflatesKernelsByReplicationOrAtTheCentreAndSlicesThemBack() {
		Model model = convNet(7);
		String source = upload("conv2d", model, null);
		float[] kernel = model.get("stem.conv.weight");
		int depth = 3;
		String replicated = transform(source, Map.of("kind", "inflate", "name", "conv3d-i3d", "include",
				List.of("conv\\.weight$"), "depth", depth, "method", "replicate"))
			.get("id")
			.asString();
		Stored inflated = weights(replicated).get("stem.conv.weight");
		assertThat(inflated.shape()).containsExactly(4, 3, depth, 3, 3);
		float[] got = inflated.f32();
		for (int oi = 0; oi < 12; oi++) {
			for (int z = 0; z < depth; z++) {
				for (int p = 0; p < 9; p++) {
					assertThat(got[(oi * depth + z) * 9 + p]).isEqualTo(kernel[oi * 9 + p] / depth);
				}
			}
		}
		assertThat(weights(replicated).get("head.fc.weight").f32()).containsExactly(model.get("head.fc.weight"));

		String centred = transform(source, Map.of("kind", "inflate", "name", "conv3d-centre", "include",
				List.of("conv\\.weight$"), "depth", depth, "method", "center"))
			.get("id")
			.asString();
		float[] centre = weights(centred).get("stem.conv.weight").f32();
		for (int oi = 0; oi < 12; oi++) {
			for (int z = 0; z < depth; z++) {
				for (int p = 0; p < 9; p++) {
					assertThat(centre[(oi * depth + z) * 9 + p]).isEqualTo((z == 1) ? kernel[oi * 9 + p] : 0f);
				}
			}
		}
		String back = transform(centred, Map.of("kind", "inflate", "name", "conv2d-again", "include",
				List.of("conv\\.weight$"), "method", "center_slice"))
			.get("id")
			.asString();
		Stored sliced = weights(back).get("stem.conv.weight");
		assertThat(sliced.shape()).containsExactly(4, 3, 3, 3);
		assertThat(sliced.f32()).containsExactly(kernel);
	}

	@Test
	void checksEveryKernelShapeBeforeInflatingAnything() {
		String source = upload("conv2d-refusal", convNet(8), null);
		Response response = this.api.postJson("/api/v1/models/" + source + "/transforms", Map.of("kind", "inflate",
				"name", "never", "include", List.of("weight$"), "depth", 3, "method", "replicate"));
		assertThat(response.code()).isEqualTo(422);
		assertThat(response.json().get("tensor").asString()).isEqualTo("head.fc.weight");
		assertThat(this.api.get("/api/v1/models?name=never").json().get("totalItems").asLong()).isZero();
	}

	@Test
	void exportsInt4GroupsInThePackQuantizedLayoutWithinHalfAScale() {
		Model model = llama(9);
		String source = upload("to-int4", model, llamaConfig());
		JsonNode created = transform(source, Map.of("kind", "quantize", "name", "int4", "bits", 4, "granularity",
				"group", "groupSize", 32, "symmetric", true));
		String id = created.get("id").asString();
		Map<String, Stored> out = weights(id);
		JsonNode reports = created.get("transform").get("tensors");
		assertThat(reports).hasSize(LAYERS * 7);
		long saved = 0;
		for (JsonNode report : reports) {
			String name = report.get("tensor").asString();
			String module = name.substring(0, name.length() - "weight".length());
			long[] shape = model.shapes().get(name);
			int rows = (int) shape[0];
			int columns = (int) shape[1];
			assertThat(out).doesNotContainKey(name);
			Stored packed = out.get(module + "weight_packed");
			Stored scales = out.get(module + "weight_scale");
			Stored shapeTensor = out.get(module + "weight_shape");
			assertThat(packed.dtype()).isEqualTo("I32");
			assertThat(packed.shape()).containsExactly(rows, columns / 8);
			assertThat(scales.dtype()).isEqualTo("F32");
			assertThat(scales.shape()).containsExactly(rows, columns / 32);
			assertThat(shapeTensor.dtype()).isEqualTo("I64");
			assertThat(shapeTensor.i64()).containsExactly(rows, columns);
			assertThat(out).doesNotContainKey(module + "weight_zero_point");
			int[] words = packed.i32();
			float[] scale = scales.f32();
			float[] original = model.get(name);
			double signal = 0;
			double noise = 0;
			for (int r = 0; r < rows; r++) {
				for (int c = 0; c < columns; c++) {
					// pack_to_int32: eight 4-bit codes per word, element k at bits 4k,
					// stored as q + 8.
					int q = ((words[r * (columns / 8) + c / 8] >>> (4 * (c % 8))) & 0xF) - 8;
					double s = scale[r * (columns / 32) + c / 32];
					double decoded = q * s;
					double x = original[r * columns + c];
					assertThat(Math.abs(x - decoded)).as(name + "[" + r + "," + c + "]")
						.isLessThanOrEqualTo(halfScale(s, x));
					signal += x * x;
					noise += (x - decoded) * (x - decoded);
				}
			}
			assertThat(report.get("snrDb").asDouble()).isCloseTo(10 * Math.log10(signal / noise), within(1e-3));
			long quantizedBytes = rows * (columns / 8) * 4L + rows * (columns / 32) * 4L + 16;
			assertThat(report.get("bytesSaved").asLong()).isEqualTo(rows * columns * 4L - quantizedBytes);
			saved += rows * columns * 4L - quantizedBytes;
		}
		assertThat(created.get("transform").get("bytesSaved").asLong()).isEqualTo(saved);
		for (String kept : List.of("model.embed_tokens.weight", "lm_head.weight", "model.norm.weight",
				"model.layers.0.input_layernorm.weight")) {
			assertThat(out.get(kept).f32()).containsExactly(model.get(kept));
		}
		JsonNode quantization = config(id).get("quantization_config");
		assertThat(quantization.get("quant_method").asString()).isEqualTo("compressed-tensors");
		assertThat(quantization.get("format").asString()).isEqualTo("pack-quantized");
		JsonNode weights = quantization.get("config_groups").get("group_0").get("weights");
		assertThat(weights.get("num_bits").asInt()).isEqualTo(4);
		assertThat(weights.get("type").asString()).isEqualTo("int");
		assertThat(weights.get("strategy").asString()).isEqualTo("group");
		assertThat(weights.get("group_size").asInt()).isEqualTo(32);
		assertThat(weights.get("symmetric").asBoolean()).isTrue();
		assertThat(quantization.get("ignore").toString()).isEqualTo("[\"lm_head\"]");
		assertThat(this.api.get("/api/v1/models/" + id).json().get("config").get("transform").get("tensors"))
			.hasSize(LAYERS * 7);
		String card = new String(this.api.get("/api/v1/models/" + id + "/files/README.md").body(),
				StandardCharsets.UTF_8);
		assertThat(card).contains("base_model: patchbay/to-int4").contains("base_model_relation: quantized");
	}

	@Test
	void exportsAsymmetricInt8ChannelsWithRowPackedZeroPoints() {
		Model model = llama(10);
		String source = upload("to-int8", model, llamaConfig());
		String id = transform(source,
				Map.of("kind", "quantize", "name", "int8", "bits", 8, "granularity", "channel", "symmetric", false))
			.get("id")
			.asString();
		Map<String, Stored> out = weights(id);
		for (String name : List.of("model.layers.1.self_attn.k_proj.weight", "model.layers.2.mlp.down_proj.weight")) {
			String module = name.substring(0, name.length() - "weight".length());
			long[] shape = model.shapes().get(name);
			int rows = (int) shape[0];
			int columns = (int) shape[1];
			Stored zeroPoints = out.get(module + "weight_zero_point");
			assertThat(zeroPoints.dtype()).isEqualTo("I32");
			assertThat(zeroPoints.shape()).containsExactly(rows / 4, 1);
			assertThat(out.get(module + "weight_scale").shape()).containsExactly(rows, 1);
			int[] words = out.get(module + "weight_packed").i32();
			int[] zpWords = zeroPoints.i32();
			float[] scale = out.get(module + "weight_scale").f32();
			float[] original = model.get(name);
			for (int r = 0; r < rows; r++) {
				// Zero points are packed along dim 0: four rows to a word.
				int zp = ((zpWords[r / 4] >>> (8 * (r % 4))) & 0xFF) - 128;
				for (int c = 0; c < columns; c++) {
					int q = ((words[r * (columns / 4) + c / 4] >>> (8 * (c % 4))) & 0xFF) - 128;
					double decoded = (q - zp) * (double) scale[r];
					assertThat(Math.abs(original[r * columns + c] - decoded))
						.isLessThanOrEqualTo(halfScale(scale[r], original[r * columns + c]));
				}
			}
		}
		JsonNode weights = config(id).get("quantization_config").get("config_groups").get("group_0").get("weights");
		assertThat(weights.get("strategy").asString()).isEqualTo("channel");
		assertThat(weights.get("symmetric").asBoolean()).isFalse();
	}

	@Test
	void exportsZeroFreePowerOfTwoCodesWithinTheirBound() {
		Model model = llama(11);
		String source = upload("to-pow2", model, llamaConfig());
		JsonNode created = transform(source,
				Map.of("kind", "quantize", "name", "pow2", "bits", 4, "granularity", "channel", "scheme", "pow2"));
		Map<String, Stored> out = weights(created.get("id").asString());
		int maxExponent = 7;
		String name = "model.layers.0.mlp.up_proj.weight";
		String module = "model.layers.0.mlp.up_proj.";
		int[] words = out.get(module + "weight_packed").i32();
		float[] scale = out.get(module + "weight_scale").f32();
		float[] original = model.get(name);
		for (int r = 0; r < INTERMEDIATE; r++) {
			double amax = 0;
			for (int c = 0; c < HIDDEN; c++) {
				amax = Math.max(amax, Math.abs(original[r * HIDDEN + c]));
			}
			assertThat((double) scale[r]).isCloseTo(amax, within(1e-7));
			for (int c = 0; c < HIDDEN; c++) {
				int code = (words[r * (HIDDEN / 8) + c / 8] >>> (4 * (c % 8))) & 0xF;
				int sign = code >> 3;
				int exponent = code & 7;
				double decoded = (sign == 1 ? -1 : 1) * scale[r] * Math.pow(2, -exponent);
				double x = original[r * HIDDEN + c];
				assertThat(decoded).isNotZero();
				// Nearest of the levels scale·2^-e: within a third of |x| between two
				// levels, and within the smallest level below it.
				double bound = Math.max(Math.abs(x) / 3, scale[r] * Math.pow(2, -maxExponent));
				assertThat(Math.abs(x - decoded)).as(r + "," + c).isLessThanOrEqualTo(bound * (1 + 1e-6));
			}
		}
		assertThat(config(created.get("id").asString()).get("quantization_config").get("quant_method").asString())
			.isEqualTo("patchbay-pow2");
		Response asymmetric = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "quantize", "bits", 4, "granularity", "channel", "scheme", "pow2", "symmetric", false));
		assertThat(asymmetric.code()).isEqualTo(400);
	}

	@Test
	void quantizesAShardedFolderUploadKeepingItsOtherFiles() {
		// The fixture tiny Llama, uploaded as two shards with an index and tokenizer
		// files.
		String source = FolderIntegrationTests.uploadLlamaFolder(this.api, "sharded-llama");
		Map<String, float[]> original = Fixtures.floats(Fixtures.path("lora_llama/base.safetensors"));
		String id = transform(source,
				Map.of("kind", "quantize", "name", "sharded-int8", "bits", 8, "granularity", "channel"))
			.get("id")
			.asString();
		Map<String, Stored> out = weights(id);
		// 7 Linear weights in each of the 2 blocks become 3 tensors each.
		assertThat(out).hasSize(original.size() + 2 * 7 * 2);
		String name = "model.layers.1.self_attn.q_proj.weight";
		int[] words = out.get("model.layers.1.self_attn.q_proj.weight_packed").i32();
		float[] scale = out.get("model.layers.1.self_attn.q_proj.weight_scale").f32();
		for (int r = 0; r < 64; r++) {
			for (int c = 0; c < 64; c++) {
				int q = ((words[r * 16 + c / 4] >>> (8 * (c % 4))) & 0xFF) - 128;
				assertThat(Math.abs(original.get(name)[r * 64 + c] - q * (double) scale[r]))
					.isLessThanOrEqualTo(halfScale(scale[r], original.get(name)[r * 64 + c]));
			}
		}
		assertThat(this.api.get("/api/v1/models/" + id + "/files/tokenizer_config.json").body())
			.isEqualTo(FolderIntegrationTests.TOKENIZER_CONFIG);
		JsonNode config = config(id);
		assertThat(config.get("vocab_size").asInt()).isEqualTo(128);
		assertThat(config.get("quantization_config")
			.get("config_groups")
			.get("group_0")
			.get("weights")
			.get("num_bits")
			.asInt()).isEqualTo(8);
	}

	@Test
	void refusesGroupsThatDoNotDivideTheColumnsNamingTheTensors() {
		String source = upload("to-int4-128", llama(12), llamaConfig());
		Response response = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "quantize", "bits", 4, "granularity", "group", "groupSize", 128));
		assertThat(response.code()).isEqualTo(422);
		assertThat(response.json().get("tensor").asString()).isEqualTo("model.layers.0.self_attn.q_proj.weight");
		assertThat(response.json().get("tensors")).hasSize(LAYERS * 6);
		Response badBits = this.api.postJson("/api/v1/models/" + source + "/transforms",
				Map.of("kind", "quantize", "bits", 3, "granularity", "channel"));
		assertThat(badBits.code()).isEqualTo(400);
		assertThat(badBits.json().get("field").asString()).isEqualTo("bits");
	}

	@Test
	void needsAPublisherKeyAndAKnownModel() {
		String source = upload("guarded", llama(13), llamaConfig());
		Map<String, Object> request = Map.of("kind", "drop_blocks", "blocks", List.of(0));
		assertThat(this.api.withKey(null).postJson("/api/v1/models/" + source + "/transforms", request).code())
			.isEqualTo(401);
		String reader = this.api.postJson("/api/v1/keys", Map.of("name", "transform-reader", "role", "reader"))
			.json()
			.get("key")
			.asString();
		assertThat(this.api.withKey(reader).postJson("/api/v1/models/" + source + "/transforms", request).code())
			.isEqualTo(403);
		assertThat(this.api.postJson("/api/v1/models/00000000-0000-0000-0000-000000000000/transforms", request).code())
			.isEqualTo(404);
	}

	/**
	 * The int schemes' bound, s / 2: the scale is stored as a float32, so the clamped
	 * largest element (x = q_max · s + s / 2 in exact arithmetic) may sit a few float
	 * roundings of x past it.
	 */
	private static double halfScale(double scale, double x) {
		return scale / 2 + 1e-6 * Math.abs(x);
	}

	private static int[] range(int n) {
		return IntStream.range(0, n).toArray();
	}

	/** Rows and columns of a row-major matrix with {@code columns} columns. */
	private static float[] take(float[] matrix, int columns, int[] rows, int[] keep) {
		float[] out = new float[rows.length * keep.length];
		for (int r = 0; r < rows.length; r++) {
			for (int c = 0; c < keep.length; c++) {
				out[r * keep.length + c] = matrix[rows[r] * columns + keep[c]];
			}
		}
		return out;
	}

	/** Tensors by name, with their shapes, in upload order. */
	record Model(Map<String, long[]> shapes, Map<String, float[]> values) {

		static Model random(Map<String, long[]> shapes, long seed) {
			Random random = new Random(seed);
			Map<String, float[]> values = new LinkedHashMap<>();
			shapes.forEach((name, shape) -> {
				float[] tensor = new float[(int) Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
				for (int i = 0; i < tensor.length; i++) {
					tensor[i] = (float) random.nextGaussian();
				}
				values.put(name, tensor);
			});
			return new Model(shapes, values);
		}

		float[] get(String name) {
			return this.values.get(name);
		}

	}

	/** One tensor of a downloaded safetensors file. */
	record Stored(String dtype, long[] shape, byte[] data) {

		static Map<String, Stored> all(byte[] file) {
			long length = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
			JsonNode header = Fixtures.header(file);
			Map<String, Stored> tensors = new LinkedHashMap<>();
			header.properties().forEach((entry) -> {
				if (entry.getKey().equals("__metadata__")) {
					return;
				}
				JsonNode tensor = entry.getValue();
				int begin = (int) (8 + length + tensor.get("data_offsets").get(0).asLong());
				int end = (int) (8 + length + tensor.get("data_offsets").get(1).asLong());
				tensors.put(entry.getKey(),
						new Stored(tensor.get("dtype").asString(),
								tensor.get("shape").valueStream().mapToLong(JsonNode::asLong).toArray(),
								Arrays.copyOfRange(file, begin, end)));
			});
			return tensors;
		}

		private ByteBuffer buffer() {
			return ByteBuffer.wrap(this.data).order(ByteOrder.LITTLE_ENDIAN);
		}

		float[] f32() {
			assertThat(this.dtype).isEqualTo("F32");
			float[] values = new float[this.data.length / 4];
			buffer().asFloatBuffer().get(values);
			return values;
		}

		int[] i32() {
			assertThat(this.dtype).isEqualTo("I32");
			int[] values = new int[this.data.length / 4];
			buffer().asIntBuffer().get(values);
			return values;
		}

		long[] i64() {
			assertThat(this.dtype).isEqualTo("I64");
			long[] values = new long[this.data.length / 8];
			buffer().asLongBuffer().get(values);
			return values;
		}

	}

}
