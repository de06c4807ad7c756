package dev.patchbay.api;

import java.io.IOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.simple.JdbcClient;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * The digits experiments of the seed papers, driven only through HTTP: models with a
 * TorchScript graph, signatures, diffs and a LoRA composed onto them, KServe v2 inference
 * and accuracy evaluations against the reference numbers in the fixtures' manifest.
 */
@IntegrationTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InferenceIntegrationTests {

	private static final Map<String, Object> SIGNATURE = Map.of("inputs",
			List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))), "outputs",
			List.of(Map.of("name", "logits", "datatype", "FP32", "shape", List.of(-1, 10))));

	private static final List<String> SPLITS = List.of("clean", "noise", "blur", "flip");

	@Autowired
	ApiClient api;

	@Autowired
	JdbcClient jdbc;

	private final Map<String, String> models = new LinkedHashMap<>();

	private String dataset;

	@BeforeAll
	void registerDigits() {
		for (String name : List.of("base_v1", "base_v2", "robust_noise_v1", "robust_blur_v1", "finetuned_flip_v1")) {
			Response response = this.api.postMultipart("/api/v1/models",
					multipart(Map.of("name", "digits-" + name, "family", "smallcnn", "signature", SIGNATURE))
						.file("weights", Fixtures.path("digits/" + name + ".safetensors"))
						.file("graph", Fixtures.path("digits/digits_cnn.pt")));
			assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
			this.models.put(name, response.json().get("id").asString());
		}
		Response data = this.api.postMultipart("/api/v1/datasets",
				multipart(Map.of("name", "digits-test-for-inference")).file("data",
						Fixtures.path("digits/testset.safetensors")));
		this.dataset = data.json().get("id").asString();
	}

	@Test
	void inferenceReproducesReferenceLogitsForABaseAndALoraComposition() {
		Map<String, float[]> expected = Fixtures.floats(Fixtures.path("digits/expected_logits.safetensors"));
		Map<String, float[]> images = Fixtures.floats(Fixtures.path("digits/testset.safetensors"));
		assertLogits(this.models.get("base_v2"), images.get("images_clean"), expected.get("base_v2_clean_first16"));
		String lora = lora();
		Response composition = this.api.postJson("/api/v1/compositions", Map.of("baseModelId",
				this.models.get("base_v2"), "terms", List.of(Map.of("patchId", lora)), "materialize", true));
		String compositionId = composition.json().get("id").asString();
		assertLogits(compositionId, images.get("images_flip"), expected.get("v2+lora_flip_flip_first16"));
		// Inference reads the result as soon as it is computed; the materialized model is
		// registered after it is stored durably, off that path.
		String materialized = this.api.awaitReady(compositionId, Duration.ofSeconds(30))
			.get("resultModelId")
			.asString();
		assertThat(this.api.get("/v2/models/" + materialized).json().get("inputs").get(0).get("name").asString())
			.as("the materialized model inherits the base's graph and signature")
			.isEqualTo("images");
		assertLogits(materialized, images.get("images_flip"), expected.get("v2+lora_flip_flip_first16"));
	}

	@Test
	void metadataDeclaresTheSignatureWithVariableBatch() {
		JsonNode metadata = this.api.get("/v2/models/" + this.models.get("base_v1")).json();
		assertThat(metadata.get("inputs").get(0).get("name").asString()).isEqualTo("images");
		assertThat(metadata.get("inputs").get(0).get("shape").toString()).isEqualTo("[-1,1,8,8]");
		assertThat(metadata.get("outputs").get(0).get("datatype").asString()).isEqualTo("FP32");
		assertThat(this.api.get("/v2/health/live").json().get("live").asBoolean()).isTrue();
		assertThat(this.api.get("/v2/health/ready").json().get("ready").asBoolean()).isTrue();
	}

	@Test
	void shapeAndDatatypeErrorsGetTheV2ErrorBody() {
		String id = this.models.get("base_v1");
		Response wrongShape = this.api.postJson("/v2/models/" + id + "/infer", Map.of("inputs", List
			.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(1, 1, 4, 4), "data", new float[16]))));
		assertThat(wrongShape.code()).isEqualTo(400);
		assertThat(wrongShape.json().get("error").asString()).contains("shape");
		Response wrongType = this.api.postJson("/v2/models/" + id + "/infer", Map.of("inputs", List
			.of(Map.of("name", "images", "datatype", "INT64", "shape", List.of(1, 1, 8, 8), "data", new long[64]))));
		assertThat(wrongType.code()).isEqualTo(400);
		assertThat(wrongType.json().get("error").asString()).contains("INT64");
		Response shortData = this.api.postJson("/v2/models/" + id + "/infer", Map.of("inputs", List
			.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(1, 1, 8, 8), "data", new float[3]))));
		assertThat(shortData.code()).isEqualTo(400);
		assertThat(this.api.get("/v2/models/not-a-model").code()).isEqualTo(404);
	}

	@Test
	void aGraphWhoseParametersTheModelLacksIsRejectedNamingThem() throws IOException {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "llama-with-cnn-graph"))
					.file("weights", Fixtures.path("lora_llama/base.safetensors"))
					.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		assertThat(response.code()).isEqualTo(422);
		assertThat(response.json().get("problems").valueStream().map((p) -> p.get("parameter").asString()))
			.contains("conv1.weight", "fc2.bias");
		String plain = this.api.postMultipart("/api/v1/models", multipart(Map.of("name", "v1-graph-later"))
			.file("weights", Fixtures.path("digits/base_v1.safetensors"))).json().get("id").asString();
		Response attached = this.api.putMultipart("/api/v1/models/" + plain + "/graph", new ApiClient.Multipart()
			.bytes("graph", "digits_cnn.pt", Files.readAllBytes(Fixtures.path("digits/digits_cnn.pt"))));
		assertThat(attached.code()).as(attached.json().toString()).isEqualTo(200);
		assertThat(attached.json().get("files").valueStream().map((f) -> f.get("role").asString())).contains("graph");
	}

	@Test
	void concurrentRequestsOnOneModelAgree() {
		Map<String, float[]> images = Fixtures.floats(Fixtures.path("digits/testset.safetensors"));
		float[] batch = java.util.Arrays.copyOf(images.get("images_clean"), 8 * 64);
		List<CompletableFuture<JsonNode>> requests = new ArrayList<>();
		for (int i = 0; i < 8; i++) {
			requests.add(CompletableFuture.supplyAsync(() -> infer(this.models.get("base_v2"), batch, 8)));
		}
		List<String> outputs = requests.stream()
			.map((r) -> r.join().get("outputs").get(0).get("data").toString())
			.toList();
		assertThat(outputs).containsOnly(outputs.get(0));
	}

	@Test
	void prometheusExposesCompositionCacheAndRequestMetrics() {
		String composition = compose("base_v1", term(lora(), 0.25));
		float[] zeros = new float[64];
		infer(composition, zeros, 1);
		infer(composition, zeros, 1);
		Response scrape = this.api.get("/actuator/prometheus");
		assertThat(scrape.code()).isEqualTo(200);
		assertThat(new String(scrape.body())).contains("patchbay_composition_duration_seconds_count{outcome=\"ready\"")
			.contains("patchbay_composition_output_bytes_total")
			.contains("patchbay_inference_cache_total{result=\"hit\"")
			.contains("patchbay_inference_cache_total{result=\"miss\"")
			.contains("http_server_requests_seconds_count");
	}

	@Test
	void accuracyTableMatchesTheReferenceWithinTwoThousandths() {
		JsonNode reference = JsonMapper.builder().build().readTree(readManifest()).get("accuracy");
		String noiseFull = rws("robust_noise_v1", List.of(".*"));
		String blurFull = rws("robust_blur_v1", List.of(".*"));
		String noiseShallow = rws("robust_noise_v1", List.of("^conv1\\.", "^conv2\\."));
		String blurShallow = rws("robust_blur_v1", List.of("^conv1\\.", "^conv2\\."));
		String flipDiff = this.api
			.postJson("/api/v1/patches/diff", Map.of("name", "digits-flip-diff", "baseModelId",
					this.models.get("base_v1"), "finetunedModelId", this.models.get("finetuned_flip_v1")))
			.json()
			.get("id")
			.asString();
		Map<String, String> targets = new LinkedHashMap<>();
		this.models.forEach(targets::put);
		for (String kind : List.of("noise", "blur")) {
			String full = kind.equals("noise") ? noiseFull : blurFull;
			String shallow = kind.equals("noise") ? noiseShallow : blurShallow;
			for (double alpha : List.of(0.5, 1.0, 1.5)) {
				targets.put("v1+rws_" + kind + "_full_a" + alpha, compose("base_v1", term(full, alpha)));
				targets.put("v1+rws_" + kind + "_shallow_a" + alpha, compose("base_v1", term(shallow, alpha)));
			}
			targets.put("v2+rws_" + kind + "_full_from_v1", compose("base_v2", term(full, 1.0)));
			targets.put("v2+rws_" + kind + "_shallow_from_v1", compose("base_v2", term(shallow, 1.0)));
		}
		targets.put("v1+rws_noise_shallow+rws_blur_shallow", compose("base_v1", List
			.of(Map.of("patchId", noiseShallow, "weight", 1.0), Map.of("patchId", blurShallow, "weight", 1.0))));
		targets.put("v2+diff_flip_a0.5", compose("base_v2", term(flipDiff, 0.5)));
		targets.put("v2+diff_flip_a1.0", compose("base_v2", term(flipDiff, 1.0)));
		targets.put("v2+lora_flip", compose("base_v2", term(lora(), 1.0)));
		StringBuilder table = new StringBuilder("| model | clean | noise | blur | flip |\n|---|---|---|---|---|\n");
		List<String> misses = new ArrayList<>();
		targets.forEach((name, id) -> {
			table.append("| ").append(name);
			for (String split : SPLITS) {
				double measured = accuracy(id, split, this.models.containsKey(name));
				double expected = reference.get(name).get(split).asDouble();
				table.append(String.format(" | %.4f (ref %.4f)", measured, expected));
				if (Math.abs(measured - expected) > 0.002) {
					misses.add(name + "/" + split + ": " + measured + " vs " + expected);
				}
			}
			table.append(" |\n");
		});
		System.out.println("Digits accuracy measured through the HTTP API:\n" + table);
		assertThat(targets).hasSize(reference.size());
		assertThat(misses).isEmpty();
	}

	/**
	 * A replica killed in the middle of an evaluation leaves it running with a lease
	 * nobody renews: another replica runs it again from the start, from the request as it
	 * was stored. The dead replica is the row it would leave: a real evaluation's request
	 * (made to read another split), some progress, a heartbeat an hour old.
	 */
	@Test
	void anEvaluationWhoseReplicaIsGoneIsRunAgainFromTheStart() {
		JsonNode reference = JsonMapper.builder().build().readTree(readManifest()).get("accuracy").get("base_v2");
		Response finished = this.api.postJson("/api/v1/evaluations", Map.of("modelId", "digits-base_v2", "datasetId",
				"digits-test-for-inference", "inputs", "images_clean", "labels", "labels"));
		assertThat(finished.code()).as(finished.json().toString()).isEqualTo(200);
		UUID template = UUID.fromString(finished.json().get("id").asString());
		// Stored with its references resolved and its defaults filled in, so that any
		// replica runs what was asked even if a name moves meanwhile.
		JsonNode request = JsonMapper.builder()
			.build()
			.readTree(this.jdbc.sql("select request from evaluation where id = :id")
				.param("id", template)
				.query(String.class)
				.single());
		assertThat(request.get("modelId").asString()).isEqualTo(this.models.get("base_v2"));
		assertThat(request.get("datasetId").asString()).isEqualTo(this.dataset);
		assertThat(request.get("batchSize").asInt()).isEqualTo(256);
		String heartbeat = heartbeat(template);
		UUID orphan = UUID.randomUUID();
		this.jdbc.sql("""
				insert into evaluation (id, status, examples_done, examples_total, correct, created_at, claimed_by,
				                        heartbeat_at, request)
				select :orphan, 'running', 256, examples_total, 3, now() - interval '1 hour', 'gone@nowhere/dead',
				       now() - interval '1 hour', replace(request, '"images_clean"', '"images_blur"')
				from evaluation where id = :template""").param("orphan", orphan).param("template", template).update();

		JsonNode evaluation = awaitFinished(orphan);
		assertThat(evaluation.get("status").asString()).as(evaluation.toString()).isEqualTo("done");
		assertThat(evaluation.get("examplesDone").asLong()).isEqualTo(597);
		assertThat(evaluation.get("accuracy").asDouble()).isCloseTo(reference.get("blur").asDouble(), within(0.002));
		// Released when it ended: the tick that took the orphan over renewed the leases
		// this replica holds first, and not the finished evaluation's.
		assertThat(heartbeat(template)).isEqualTo(heartbeat);
	}

	private String heartbeat(UUID evaluation) {
		return this.jdbc.sql("select heartbeat_at::text from evaluation where id = :id")
			.param("id", evaluation)
			.query(String.class)
			.single();
	}

	/**
	 * An evaluation stored before evaluations kept their request cannot be run elsewhere:
	 * once its replica is gone, it fails saying it must be posted again.
	 */
	@Test
	void anEvaluationStoredWithoutItsRequestFailsAsAbandonedWhenItsReplicaIsGone() {
		UUID orphan = UUID.randomUUID();
		this.jdbc.sql("""
				insert into evaluation (id, status, examples_done, examples_total, correct, created_at)
				values (:id, 'running', 256, 597, 200, now() - interval '1 hour')""").param("id", orphan).update();

		JsonNode evaluation = awaitFinished(orphan);
		assertThat(evaluation.get("status").asString()).as(evaluation.toString()).isEqualTo("failed");
		JsonNode problem = evaluation.get("error");
		assertThat(problem.get("type").asString()).isEqualTo("https://patchbay.dev/problems/evaluation-abandoned");
		assertThat(problem.get("title").asString()).isEqualTo("Evaluation abandoned");
		assertThat(problem.get("detail").asString()).contains("stopped").contains("post it again");
	}

	/** Leases are renewed, and lapsed ones taken over, every 10 s: wait a few ticks. */
	private JsonNode awaitFinished(UUID id) {
		return await("evaluation " + id + " finished").atMost(Duration.ofSeconds(90))
			.pollInterval(Duration.ofMillis(200))
			.until(() -> this.api.get("/api/v1/evaluations/" + id).json(),
					(current) -> !current.get("status").asString().equals("running"));
	}

	private double accuracy(String id, String split, boolean isModel) {
		Map<String, Object> request = new LinkedHashMap<>(Map.of(isModel ? "modelId" : "compositionId", id, "datasetId",
				this.dataset, "inputs", "images_" + split, "labels", "labels"));
		Response response = this.api.postJson("/api/v1/evaluations", request);
		assertThat(response.code()).as(response.json().toString()).isEqualTo(200);
		assertThat(response.json().get("count").asLong()).isEqualTo(597);
		return response.json().get("accuracy").asDouble();
	}

	private void assertLogits(String id, float[] images, float[] expected) {
		float[] first16 = java.util.Arrays.copyOf(images, 16 * 64);
		JsonNode output = infer(id, first16, 16).get("outputs").get(0);
		assertThat(output.get("name").asString()).isEqualTo("logits");
		assertThat(output.get("shape").toString()).isEqualTo("[16,10]");
		for (int i = 0; i < expected.length; i++) {
			assertThat(output.get("data").get(i).asDouble()).isCloseTo(expected[i], within(1e-4));
		}
	}

	private JsonNode infer(String id, float[] images, int count) {
		Response response = this.api.postJson("/v2/models/" + id + "/infer", Map.of("id", "req-1", "inputs", List
			.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(count, 1, 8, 8), "data", images))));
		assertThat(response.code()).as(new String(response.body())).isEqualTo(200);
		assertThat(response.json().get("id").asString()).isEqualTo("req-1");
		return response.json();
	}

	private String rws(String robust, List<String> include) {
		Response response = this.api.postJson("/api/v1/patches/rws",
				Map.of("name", "digits-rws-" + robust + "-" + include.size(), "cleanModelId",
						this.models.get("base_v1"), "robustModelId", this.models.get(robust), "include", include));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private String lora() {
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "digits-lora-flip-" + System.nanoTime()))
					.file("adapter_config", Fixtures.path("digits/lora_flip_v2/adapter_config.json"))
					.file("adapter_model", Fixtures.path("digits/lora_flip_v2/adapter_model.safetensors")));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private static List<Map<String, Object>> term(String patch, double weight) {
		return List.of(Map.of("patchId", patch, "weight", weight));
	}

	private String compose(String base, List<Map<String, Object>> terms) {
		Response response = this.api.postJson("/api/v1/compositions",
				Map.of("baseModelId", this.models.get(base), "terms", terms));
		assertThat(response.code()).as(response.json().toString()).isIn(200, 201);
		return response.json().get("id").asString();
	}

	private static String readManifest() {
		try {
			return Files.readString(Fixtures.path("digits/manifest.json"));
		}
		catch (IOException ex) {
			throw new java.io.UncheckedIOException(ex);
		}
	}

}
