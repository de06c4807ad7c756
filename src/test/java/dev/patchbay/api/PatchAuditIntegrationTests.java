package dev.patchbay.api;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The patch audit over HTTP: a crafted patch that prunes 3 of 512 MLP neurons is flagged
 * and refused at composition unless an admin acknowledges it, while the fixtures' real
 * LoRA, DoRA and RWS patches pass. Chunks are small here, so the 512-neuron tensors are
 * measured across several chunks and the small ones within one.
 */
@IntegrationTest
@TestPropertySource(properties = "patchbay.composition.chunk-elements=4096")
class PatchAuditIntegrationTests {

	private static final int HIDDEN = 64;

	private static final int NEURONS = 512;

	private static final int[] PRUNED = { 7, 100, 400 };

	@Autowired
	ApiClient api;

	@Test
	void flagsADiffThatZeroesThreeOfFiveHundredTwelveNeuronsOfUpAndGateProjections() {
		Map<String, float[]> base = syntheticMlp();
		String model = model("mlp-512", base);
		// delta = −base on three rows of layer 1's up and gate projections.
		Map<String, long[]> shapes = new LinkedHashMap<>();
		Map<String, float[]> delta = new LinkedHashMap<>();
		for (String projection : List.of("gate_proj", "up_proj")) {
			String name = "model.layers.1.mlp." + projection + ".weight";
			float[] values = new float[NEURONS * HIDDEN];
			for (int row : PRUNED) {
				for (int c = 0; c < HIDDEN; c++) {
					values[row * HIDDEN + c] = -base.get(name)[row * HIDDEN + c];
				}
			}
			shapes.put(name, new long[] { NEURONS, HIDDEN });
			delta.put(name, values);
		}
		String patch = diffPatch("prune-rows", model, shapes, delta);

		Response response = this.api.get("/api/v1/patches/" + patch + "/audit?modelId=" + model);
		assertThat(response.code()).as(response.json().toString()).isEqualTo(200);
		JsonNode audit = response.json();
		assertThat(audit.get("flagged").asBoolean()).isTrue();
		assertThat(audit.get("layers")).hasSize(1);
		JsonNode layer = audit.get("layers").get(0);
		assertThat(layer.get("layer").asString()).isEqualTo("model.layers.1");
		assertThat(layer.get("flagged").asBoolean()).isTrue();
		assertThat(layer.get("neurons").asInt()).isEqualTo(NEURONS);
		assertThat(layer.get("removedNeurons").valueStream().map(JsonNode::asInt)).containsExactly(7, 100, 400);
		assertThat(layer.get("tensors").valueStream().map(JsonNode::asString))
			.containsExactlyInAnyOrder("model.layers.1.mlp.gate_proj.weight", "model.layers.1.mlp.up_proj.weight");
		// Plain arithmetic over the base: the pruned rows' energy against the whole.
		double pruned = 0;
		double whole = 0;
		double maxAbs = 0;
		for (String name : delta.keySet()) {
			float[] values = base.get(name);
			for (int i = 0; i < values.length; i++) {
				whole += (double) values[i] * values[i];
			}
			for (int row : PRUNED) {
				for (int c = 0; c < HIDDEN; c++) {
					float value = values[row * HIDDEN + c];
					pruned += (double) value * value;
					maxAbs = Math.max(maxAbs, Math.abs(value));
				}
			}
		}
		assertThat(layer.get("relativeL2").asDouble()).isCloseTo(Math.sqrt(pruned / whole), within(1e-6));
		assertThat(layer.get("maxAbs").asDouble()).isCloseTo(maxAbs, within(1e-6));
		assertThat(layer.get("sparsity").asDouble()).isCloseTo(1 - (double) PRUNED.length / NEURONS, within(1e-9));
		for (JsonNode matrix : layer.get("matrices")) {
			String name = matrix.get("tensor").asString();
			float[] after = base.get(name).clone();
			for (int row : PRUNED) {
				for (int c = 0; c < HIDDEN; c++) {
					after[row * HIDDEN + c] = 0;
				}
			}
			assertThat(matrix.get("sigmaBefore").asDouble()).as(name)
				.isCloseTo(topSingularValue(base.get(name), NEURONS, HIDDEN), within(1e-3));
			assertThat(matrix.get("sigmaAfter").asDouble()).as(name)
				.isCloseTo(topSingularValue(after, NEURONS, HIDDEN), within(1e-3));
		}
		assertThat(layer.get("matrices")).hasSize(2);
	}

	@Test
	void flagsADiffThatZeroesColumnsOfADownProjectionAndDefaultsToThePatchsBase() {
		Map<String, float[]> base = syntheticMlp();
		String model = model("mlp-512-down", base);
		String name = "model.layers.0.mlp.down_proj.weight";
		float[] values = new float[HIDDEN * NEURONS];
		for (int r = 0; r < HIDDEN; r++) {
			for (int column : PRUNED) {
				values[r * NEURONS + column] = -base.get(name)[r * NEURONS + column];
			}
		}
		String patch = diffPatch("prune-columns", model, Map.of(name, new long[] { HIDDEN, NEURONS }),
				Map.of(name, values));

		// No modelId: the audit runs against the patch's own base.
		JsonNode audit = this.api.get("/api/v1/patches/" + patch + "/audit").json();
		assertThat(audit.get("modelId").asString()).isEqualTo(model);
		assertRemovesThePrunedNeurons(audit, "model.layers.0");
	}

	@Test
	void refusesToComposeAFlaggedPatchUnlessAnAdminAcknowledgesItAndRecordsTheAcknowledgement() {
		Map<String, float[]> base = syntheticMlp();
		String model = model("mlp-512-compose", base);
		String name = "model.layers.1.mlp.up_proj.weight";
		float[] values = new float[NEURONS * HIDDEN];
		for (int row : PRUNED) {
			for (int c = 0; c < HIDDEN; c++) {
				values[row * HIDDEN + c] = -base.get(name)[row * HIDDEN + c];
			}
		}
		String patch = diffPatch("prune-compose", model, Map.of(name, new long[] { NEURONS, HIDDEN }),
				Map.of(name, values));
		Map<String, Object> recipe = Map.of("baseModelId", model, "terms", List.of(Map.of("patchId", patch)));
		ApiClient publisher = this.api.withKey(issueKey("publisher"));

		for (ApiClient client : List.of(this.api, publisher)) {
			Response refused = client.postJson("/api/v1/compositions", recipe);
			assertThat(refused.code()).as(refused.json().toString()).isEqualTo(422);
			assertThat(refused.json().get("type").asString()).endsWith("/patch-audit-flagged");
			assertThat(refused.json().get("detail").asString()).contains("3 of 512 neurons in model.layers.1");
			JsonNode flagged = refused.json().get("flagged").get(0);
			assertThat(flagged.get("patchId").asString()).isEqualTo(patch);
			assertThat(flagged.get("layers").get(0).get("layer").asString()).isEqualTo("model.layers.1");
			assertThat(flagged.get("layers").get(0).get("removedNeurons").asInt()).isEqualTo(3);
		}
		Map<String, Object> acknowledged = new LinkedHashMap<>(recipe);
		acknowledged.put("acknowledgeAudit", true);
		Response forbidden = publisher.postJson("/api/v1/compositions", acknowledged);
		assertThat(forbidden.code()).as(forbidden.json().toString()).isEqualTo(403);
		assertThat(forbidden.json().get("field").asString()).isEqualTo("acknowledgeAudit");
		assertThat(this.api.get("/api/v1/compositions?size=200")
			.json()
			.get("items")
			.valueStream()
			.map((composition) -> composition.get("baseModelId").asString())).doesNotContain(model);

		Response created = this.api.postJson("/api/v1/compositions", acknowledged);
		assertThat(created.code()).as(created.json().toString()).isEqualTo(201);
		JsonNode ready = this.api.awaitReady(created.json().get("id").asString(), Duration.ofSeconds(60));
		JsonNode record = ready.get("auditAcknowledgement");
		assertThat(record.get("acknowledgedAt").asString()).isNotBlank();
		JsonNode layer = record.get("patches").get(0).get("layers").get(0);
		assertThat(layer.get("layer").asString()).isEqualTo("model.layers.1");
		assertThat(layer.get("neurons").asInt()).isEqualTo(NEURONS);
		assertThat(layer.get("removedNeurons").asInt()).isEqualTo(3);
		// The acknowledged composition applies the patch: the pruned rows are zero.
		Map<String, float[]> merged = Fixtures
			.floats(this.api.get("/api/v1/compositions/" + created.json().get("id").asString() + "/weights").body());
		assertThat(merged.get(name)[7 * HIDDEN + 5]).isZero();
		assertThat(merged.get(name)[8 * HIDDEN + 5]).isEqualTo(base.get(name)[8 * HIDDEN + 5]);
	}

	@ParameterizedTest
	@ValueSource(strings = { "lora_llama", "rslora_llama", "dora_llama" })
	void passesTheFixturesRealAdaptersAndMeasuresTheirChangeAgainstPeftsMerge(String fixture) {
		String model = upload(fixture + "/base.safetensors");
		String patch = this.api.uploadLora(fixture, fixture + "/adapter");
		JsonNode audit = this.api.get("/api/v1/patches/" + patch + "/audit?modelId=" + model).json();
		assertThat(audit.get("flagged").asBoolean()).as(audit.toString()).isFalse();
		Map<String, float[]> base = Fixtures.floats(Fixtures.path(fixture + "/base.safetensors"));
		Map<String, float[]> merged = Fixtures.floats(Fixtures.path(fixture + "/expected_merged.safetensors"));
		assertThat(audit.get("layers")).hasSize(2);
		for (JsonNode layer : audit.get("layers")) {
			assertThat(layer.get("removedNeurons")).isEmpty();
			assertThat(layer.get("flagged").asBoolean()).isFalse();
			double change = 0;
			double whole = 0;
			for (JsonNode tensor : layer.get("tensors")) {
				float[] w = base.get(tensor.asString());
				float[] patched = merged.get(tensor.asString());
				for (int i = 0; i < w.length; i++) {
					change += Math.pow(patched[i] - w[i], 2);
					whole += (double) w[i] * w[i];
				}
			}
			assertThat(layer.get("relativeL2").asDouble()).as(layer.toString())
				.isCloseTo(Math.sqrt(change / whole), within(1e-4 * Math.sqrt(change / whole) + 1e-7));
			assertThat(layer.get("relativeL2").asDouble()).isPositive();
		}
		if (fixture.equals("rslora_llama")) {
			// down_proj is adapted: its 128 columns are the layer's neurons.
			assertThat(audit.get("layers").get(0).get("neurons").asInt()).isEqualTo(128);
		}
	}

	@ParameterizedTest
	@ValueSource(strings = { "conv_adapters_seed4/cp_lora_r4", "conv_adapters_seed4/cp_dora_r4",
			"conv_adapters_seed4/loralib_conv_r2", "lora_cnn_conv", "dora_cnn_conv", "lora_gpt2_fan_in_fan_out" })
	void passesConvAndFanInFanOutAdaptersAndMeasuresEachLayerAgainstTheReferenceMerge(String fixture) {
		String root = fixture.startsWith("conv_adapters_seed4") ? "conv_adapters_seed4" : fixture;
		String model = upload(root + "/base.safetensors");
		String patch = this.api.uploadLora(fixture.replace('/', '-'), fixture + "/adapter");
		JsonNode audit = this.api.get("/api/v1/patches/" + patch + "/audit?modelId=" + model).json();
		assertThat(audit.get("flagged").asBoolean()).as(audit.toString()).isFalse();
		Map<String, float[]> base = Fixtures.floats(Fixtures.path(root + "/base.safetensors"));
		Map<String, float[]> merged = Fixtures.floats(Fixtures.path(fixture + "/expected_merged.safetensors"));
		assertThat(audit.get("layers")).isNotEmpty();
		for (JsonNode layer : audit.get("layers")) {
			assertThat(layer.get("removedNeurons")).isEmpty();
			double change = 0;
			double whole = 0;
			for (JsonNode tensor : layer.get("tensors")) {
				float[] w = base.get(tensor.asString());
				float[] patched = merged.get(tensor.asString());
				for (int i = 0; i < w.length; i++) {
					change += Math.pow(patched[i] - w[i], 2);
					whole += (double) w[i] * w[i];
				}
			}
			double expected = Math.sqrt(change / whole);
			assertThat(layer.get("relativeL2").asDouble()).as(layer.toString())
				.isCloseTo(expected, within(1e-3 * expected + 1e-6));
			for (JsonNode matrix : layer.get("matrices")) {
				assertThat(matrix.get("sigmaBefore").asDouble()).isPositive();
				assertThat(matrix.get("sigmaAfter").asDouble()).isPositive();
			}
		}
	}

	@Test
	void flagsADoraWhoseMagnitudesVanishOnThreeNeurons() throws Exception {
		Map<String, float[]> base = syntheticMlp();
		String model = model("mlp-512-dora", base);
		String target = "model.layers.1.mlp.up_proj";
		float[] weight = base.get(target + ".weight");
		int rank = 2;
		// B = 0 (PEFT's own initialization): V = W, so W' = m / ‖W‖ ⊙ W is W wherever
		// m is the row norm, and zero where m is.
		float[] magnitudes = new float[NEURONS];
		for (int row = 0; row < NEURONS; row++) {
			double norm = 0;
			for (int c = 0; c < HIDDEN; c++) {
				norm += (double) weight[row * HIDDEN + c] * weight[row * HIDDEN + c];
			}
			magnitudes[row] = (float) Math.sqrt(norm);
		}
		for (int row : PRUNED) {
			magnitudes[row] = 0;
		}
		float[] a = uniform(new Random(5), rank * HIDDEN);
		String prefix = "base_model.model." + target;
		Map<String, long[]> shapes = new LinkedHashMap<>();
		shapes.put(prefix + ".lora_A.weight", new long[] { rank, HIDDEN });
		shapes.put(prefix + ".lora_B.weight", new long[] { NEURONS, rank });
		shapes.put(prefix + ".lora_magnitude_vector", new long[] { NEURONS });
		Map<String, float[]> tensors = Map.of(prefix + ".lora_A.weight", a, prefix + ".lora_B.weight",
				new float[NEURONS * rank], prefix + ".lora_magnitude_vector", magnitudes);
		String config = """
				{"peft_type": "LORA", "r": 2, "lora_alpha": 2, "use_dora": true, "target_modules": ["up_proj"],
				 "layers_to_transform": [1], "fan_in_fan_out": false, "bias": "none"}""";
		Response upload = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "dora-prune", "baseModelId", model))
					.bytes("adapter_config", "adapter_config.json", config.getBytes(StandardCharsets.UTF_8))
					.bytes("adapter_model", "adapter_model.safetensors", Fixtures.f32(shapes, tensors)));
		assertThat(upload.code()).as(upload.json().toString()).isEqualTo(201);

		JsonNode audit = this.api.get("/api/v1/patches/" + upload.json().get("id").asString() + "/audit").json();
		assertRemovesThePrunedNeurons(audit, "model.layers.1");
	}

	@Test
	void passesTheDigitsLoraAndARobustWeightSignature() {
		String v2 = upload("digits/base_v2.safetensors");
		String lora = this.api.uploadLora("lora-flip", "digits/lora_flip_v2");
		JsonNode loraAudit = this.api.get("/api/v1/patches/" + lora + "/audit?modelId=" + v2).json();
		assertThat(loraAudit.get("flagged").asBoolean()).as(loraAudit.toString()).isFalse();
		assertThat(loraAudit.get("layers").valueStream().map((layer) -> layer.get("layer").asString()))
			.containsExactly("conv1", "conv2", "fc1");
		JsonNode fc1 = loraAudit.get("layers").get(2);
		assertThat(fc1.get("neurons").asInt()).isEqualTo(64);
		assertThat(fc1.get("removedNeurons")).isEmpty();

		String clean = upload("digits/base_v1.safetensors");
		String robust = upload("digits/robust_noise_v1.safetensors");
		Response rws = this.api.postJson("/api/v1/patches/rws",
				Map.of("name", "noise-rws", "cleanModelId", clean, "robustModelId", robust, "include", List.of(".")));
		assertThat(rws.code()).as(rws.json().toString()).isEqualTo(201);
		JsonNode audit = this.api.get("/api/v1/patches/" + rws.json().get("id").asString() + "/audit?modelId=" + clean)
			.json();
		assertThat(audit.get("flagged").asBoolean()).as(audit.toString()).isFalse();
		Map<String, float[]> base = Fixtures.floats(Fixtures.path("digits/base_v1.safetensors"));
		Map<String, float[]> tuned = Fixtures.floats(Fixtures.path("digits/robust_noise_v1.safetensors"));
		assertThat(audit.get("layers").valueStream().map((layer) -> layer.get("layer").asString()))
			.containsExactly("conv1", "conv2", "fc1", "fc2");
		for (JsonNode layer : audit.get("layers")) {
			assertThat(layer.get("removedNeurons")).isEmpty();
			double change = 0;
			double whole = 0;
			double maxAbs = 0;
			for (JsonNode tensor : layer.get("tensors")) {
				float[] w = base.get(tensor.asString());
				float[] t = tuned.get(tensor.asString());
				for (int i = 0; i < w.length; i++) {
					float d = t[i] - w[i];
					change += (double) d * d;
					whole += (double) w[i] * w[i];
					maxAbs = Math.max(maxAbs, Math.abs(d));
				}
			}
			assertThat(layer.get("tensors")).hasSize(2);
			assertThat(layer.get("relativeL2").asDouble()).isCloseTo(Math.sqrt(change / whole), within(1e-6));
			assertThat(layer.get("maxAbs").asDouble()).isCloseTo(maxAbs, within(1e-6));
		}
		// conv2 flattened to [32, 144]: its gain before and after, independently.
		JsonNode conv2 = audit.get("layers").get(1).get("matrices").get(0);
		assertThat(conv2.get("tensor").asString()).isEqualTo("conv2.weight");
		assertThat(conv2.get("sigmaBefore").asDouble()).isCloseTo(topSingularValue(base.get("conv2.weight"), 32, 144),
				within(1e-3));
		assertThat(conv2.get("sigmaAfter").asDouble()).isCloseTo(topSingularValue(tuned.get("conv2.weight"), 32, 144),
				within(1e-3));

		// A 4-bit per-channel signature is decoded as a composition decodes it: it
		// passes,
		// and moves conv2 about as far as the exact signature does.
		Response quantized = this.api.postJson("/api/v1/patches/rws",
				Map.of("name", "noise-rws-4bit", "cleanModelId", clean, "robustModelId", robust, "include",
						List.of("conv2"), "quantization", Map.of("bits", 4, "granularity", "channel")));
		assertThat(quantized.code()).as(quantized.json().toString()).isEqualTo(201);
		JsonNode coarse = this.api
			.get("/api/v1/patches/" + quantized.json().get("id").asString() + "/audit?modelId=" + clean)
			.json();
		assertThat(coarse.get("flagged").asBoolean()).as(coarse.toString()).isFalse();
		assertThat(coarse.get("layers")).hasSize(1);
		double exact = audit.get("layers").get(1).get("relativeL2").asDouble();
		assertThat(coarse.get("layers").get(0).get("relativeL2").asDouble()).isCloseTo(exact, within(0.1 * exact));

		// The RWS and LoRA patches compose without an acknowledgement, and none is
		// recorded.
		String composition = this.api.compose(
				Map.of("baseModelId", clean, "terms", List.of(Map.of("patchId", rws.json().get("id").asString()))));
		assertThat(this.api.get("/api/v1/compositions/" + composition).json().get("auditAcknowledgement").isNull())
			.isTrue();
	}

	@Test
	void namesTheMissingModelAndUnknownPatches() {
		Map<String, float[]> base = syntheticMlp();
		String name = "model.layers.0.mlp.up_proj.weight";
		Response upload = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", "baseless")).bytes("weights", "w.safetensors",
						Fixtures.f32(Map.of(name, new long[] { NEURONS, HIDDEN }), Map.of(name, base.get(name)))));
		assertThat(upload.code()).as(upload.json().toString()).isEqualTo(201);
		Response missing = this.api.get("/api/v1/patches/" + upload.json().get("id").asString() + "/audit");
		assertThat(missing.code()).isEqualTo(400);
		assertThat(missing.json().get("field").asString()).isEqualTo("modelId");
		assertThat(this.api.get("/api/v1/patches/00000000-0000-0000-0000-000000000000/audit").code()).isEqualTo(404);
	}

	/**
	 * Two Llama-style MLP blocks of 512 neurons and an attention projection, with values
	 * of mean 0.25 so that each matrix's top singular value stands well apart.
	 */
	private static Map<String, float[]> syntheticMlp() {
		Random random = new Random(14);
		Map<String, float[]> tensors = new LinkedHashMap<>();
		for (int layer = 0; layer < 2; layer++) {
			String prefix = "model.layers." + layer + ".";
			tensors.put(prefix + "mlp.down_proj.weight", uniform(random, HIDDEN * NEURONS));
			tensors.put(prefix + "mlp.gate_proj.weight", uniform(random, NEURONS * HIDDEN));
			tensors.put(prefix + "mlp.up_proj.weight", uniform(random, NEURONS * HIDDEN));
			tensors.put(prefix + "self_attn.q_proj.weight", uniform(random, HIDDEN * HIDDEN));
		}
		return tensors;
	}

	private static float[] uniform(Random random, int count) {
		float[] values = new float[count];
		for (int i = 0; i < count; i++) {
			values[i] = random.nextFloat() * 1.5f - 0.5f;
		}
		return values;
	}

	private static Map<String, long[]> shapesOf(Map<String, float[]> tensors) {
		Map<String, long[]> shapes = new LinkedHashMap<>();
		tensors.forEach((name, values) -> {
			long rows = name.contains("down_proj") || name.contains("q_proj") ? HIDDEN : NEURONS;
			shapes.put(name, new long[] { rows, values.length / rows });
		});
		return shapes;
	}

	private String model(String name, Map<String, float[]> tensors) {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", name, "version", String.valueOf(System.nanoTime()))).bytes("weights",
						"model.safetensors", Fixtures.f32(shapesOf(tensors), tensors)));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private String upload(String fixture) {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", fixture, "version", String.valueOf(System.nanoTime()))).file("weights",
						Fixtures.path(fixture)));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private String diffPatch(String name, String baseModelId, Map<String, long[]> shapes, Map<String, float[]> delta) {
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", name, "baseModelId", baseModelId)).bytes("weights",
						"delta.safetensors", Fixtures.f32(new LinkedHashMap<>(shapes), delta)));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private String issueKey(String role) {
		Response issued = this.api.postJson("/api/v1/keys", Map.of("name", "audit-" + role, "role", role));
		assertThat(issued.code()).isEqualTo(201);
		return issued.json().get("key").asString();
	}

	/**
	 * σ₁ of a row-major matrix, independently of the service: the largest eigenvalue of
	 * the Gram matrix MᵀM in double precision, by 2000 steps of plain power iteration.
	 */
	static double topSingularValue(float[] matrix, int rows, int columns) {
		double[][] gram = new double[columns][columns];
		for (int r = 0; r < rows; r++) {
			for (int i = 0; i < columns; i++) {
				for (int j = 0; j < columns; j++) {
					gram[i][j] += (double) matrix[r * columns + i] * matrix[r * columns + j];
				}
			}
		}
		double[] v = new double[columns];
		Arrays.fill(v, 1 / Math.sqrt(columns));
		double lambda = 0;
		for (int step = 0; step < 2000; step++) {
			double[] y = new double[columns];
			for (int i = 0; i < columns; i++) {
				for (int j = 0; j < columns; j++) {
					y[i] += gram[i][j] * v[j];
				}
			}
			double norm = 0;
			for (double value : y) {
				norm += value * value;
			}
			norm = Math.sqrt(norm);
			if (norm == 0) {
				return 0;
			}
			lambda = norm;
			for (int i = 0; i < columns; i++) {
				v[i] = y[i] / norm;
			}
		}
		return Math.sqrt(lambda);
	}

	/** A flagged audit whose first layer is the one named, with the pruned neurons. */
	private static void assertRemovesThePrunedNeurons(JsonNode audit, String layerName) {
		assertThat(audit.get("flagged").asBoolean()).as(audit.toString()).isTrue();
		JsonNode layer = audit.get("layers").get(0);
		assertThat(layer.get("layer").asString()).isEqualTo(layerName);
		assertThat(layer.get("removedNeurons").valueStream().map(JsonNode::asInt)).containsExactly(7, 100, 400);
		assertThat(layer.get("neurons").asInt()).isEqualTo(NEURONS);
	}

}
