package dev.patchbay.api;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Malformed, out-of-range and hostile input at every endpoint: each is a 4xx naming the
 * field (KServe's error body under /v2), never a 500, a hang, a Java type name or a
 * silent success. Uploads are capped at 1 MB here, so that the limit is cheap to exceed.
 */
@IntegrationTest
@TestPropertySource(properties = "patchbay.storage.max-upload-size=1MB")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HostileInputIntegrationTests {

	private static final Map<String, Object> SIGNATURE = Map.of("inputs",
			List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))), "outputs",
			List.of(Map.of("name", "logits", "datatype", "FP32", "shape", List.of(-1, 10))));

	/** Thirty a's and a mismatch: exponential work for a backtracking regex engine. */
	private static final String CATASTROPHIC_NAME = "a".repeat(30) + "!";

	private static final String CATASTROPHIC_REGEX = "((a+)+)+$";

	@Autowired
	ApiClient api;

	private String model;

	private String patch;

	private String dataset;

	@BeforeAll
	void register() {
		this.model = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "hostile-digits", "signature", SIGNATURE))
					.file("weights", Fixtures.path("digits/base_v2.safetensors"))
					.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		this.patch = this.api.uploadLora("hostile-lora", "digits/lora_flip_v2");
		// Rank-1 inputs, rank-4 images of the wrong size, and labels.
		String header = "{\"flat\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]},"
				+ "\"wide\":{\"dtype\":\"F32\",\"shape\":[4,1,4,4],\"data_offsets\":[16,272]},"
				+ "\"labels\":{\"dtype\":\"I64\",\"shape\":[4],\"data_offsets\":[272,304]}}";
		this.dataset = this.api.upload("/api/v1/datasets", multipart(Map.of("name", "hostile-dataset")).bytes("data",
				"data.safetensors", Fixtures.raw(header, new byte[304])));
	}

	@Test
	void multipartBodyWithoutBoundaryIsABadRequest() {
		Response response = this.api.postRaw("/api/v1/models", "multipart/form-data",
				"--x\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{}\r\n--x--\r\n"
					.getBytes(StandardCharsets.UTF_8));
		assertProblem(response, 400, "body");
		assertThat(response.json().get("detail").asString()).contains("boundary");
	}

	@Test
	void nulCharactersInNamesAndFiltersNameTheField() {
		Response upload = this.api.postMultipart("/api/v1/models", multipart(Map.of("name", "nul\u0000name"))
			.file("weights", Fixtures.path("digits/base_v1.safetensors")));
		assertProblem(upload, 400, "metadata.name");
		Response label = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "nul-label", "labels", Map.of("team", "a\u0000b"))).file("weights",
						Fixtures.path("digits/base_v1.safetensors")));
		assertProblem(label, 400, null);
		assertThat(label.json().get("field").asString()).startsWith("metadata.labels");
		assertProblem(this.api.get("/api/v1/models?name=a\u0000b"), 400, "name");
		assertProblem(this.api.get("/api/v1/patches?family=a\u0000b"), 400, "family");
		assertProblem(this.api.get("/api/v1/datasets?label=a\u0000b"), 400, "label");
		Response diff = this.api.postJson("/api/v1/patches/diff",
				Map.of("name", "nul\u0000diff", "baseModelId", this.model, "finetunedModelId", this.model));
		assertProblem(diff, 400, "name");
		assertProblem(this.api.postJson("/api/v1/keys", Map.of("name", "nul\u0000key", "role", "reader")), 400, "name");
	}

	@Test
	void identifiersThatAreNotUuidsNameTheParameter() {
		// Not an id, so a name: none is registered under it.
		assertProblem(this.api.get("/api/v1/models/not-a-uuid"), 404, "id");
		assertProblem(this.api.get("/api/v1/patches/" + this.patch + "/compatibility?modelId=x"), 404, "modelId");
	}

	static Stream<Arguments> hostileAdapterConfigs() {
		return Stream.of(Arguments.of("\"r\": 4", "\"r\": 2147483648", "r"),
				Arguments.of("\"r\": 4", "\"r\": 100000000000000000000", "r"),
				Arguments.of("\"r\": 4", "\"r\": 1e20", "r"),
				Arguments.of("\"rank_pattern\": {}", "\"rank_pattern\": {\"fc(\": 4}", "rank_pattern.fc("),
				Arguments.of("\"rank_pattern\": {}", "\"rank_pattern\": {\"fc1\": \"four\"}", "rank_pattern.fc1"),
				Arguments.of("\"rank_pattern\": {}", "\"rank_pattern\": [4]", "rank_pattern"),
				Arguments.of("\"alpha_pattern\": {}", "\"alpha_pattern\": {\"fc1\": [1]}", "alpha_pattern.fc1"),
				Arguments.of("\"modules_to_save\": null", "\"modules_to_save\": [[\"fc1\"]]", "modules_to_save[0]"),
				Arguments.of("\"lora_alpha\": 8", "\"lora_alpha\": \"eight\"", "lora_alpha"));
	}

	@ParameterizedTest(name = "{1}")
	@MethodSource("hostileAdapterConfigs")
	void hostileAdapterConfigsNameTheField(String original, String replacement, String field) throws IOException {
		String config = Files.readString(Fixtures.path("digits/lora_flip_v2/adapter_config.json"));
		assertThat(config).contains(original);
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "hostile " + replacement))
					.bytes("adapter_config", "adapter_config.json", config.replace(original, replacement).getBytes())
					.file("adapter_model", Fixtures.path("digits/lora_flip_v2/adapter_model.safetensors")));
		assertProblem(response, 400, null);
		assertThat(response.json().get("type").asString()).endsWith("/invalid-adapter");
		assertThat(response.json().get("problems").findValuesAsString("field")).contains(field);
	}

	@Test
	void targetModulesHoldingAnObjectNamesTheEntry() throws IOException {
		String config = Files.readString(Fixtures.path("digits/lora_flip_v2/adapter_config.json"));
		String target = config.substring(config.indexOf("\"target_modules\""));
		target = target.substring(0, target.indexOf(']') + 1);
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "hostile-target-object"))
					.bytes("adapter_config", "adapter_config.json",
							config.replace(target, "\"target_modules\": [\"fc1\", {\"a\": 1}]").getBytes())
					.file("adapter_model", Fixtures.path("digits/lora_flip_v2/adapter_model.safetensors")));
		assertProblem(response, 400, null);
		assertThat(response.json().get("problems").findValuesAsString("field")).contains("target_modules[1]");
	}

	@Test
	void nullLabelValuesNameTheLabel() {
		Map<String, Object> labels = new LinkedHashMap<>();
		labels.put("team", null);
		Map<String, Object> metadata = new LinkedHashMap<>();
		metadata.put("name", "null-label");
		metadata.put("labels", labels);
		Response upload = this.api.postMultipart("/api/v1/models",
				multipart(metadata).file("weights", Fixtures.path("digits/base_v1.safetensors")));
		assertProblem(upload, 400, null);
		assertThat(upload.json().get("field").asString()).startsWith("metadata.labels");
		Map<String, Object> diff = new LinkedHashMap<>(
				Map.of("name", "null-label-diff", "baseModelId", this.model, "finetunedModelId", this.model));
		diff.put("labels", labels);
		Response derived = this.api.postJson("/api/v1/patches/diff", diff);
		assertProblem(derived, 400, null);
		assertThat(derived.json().get("field").asString()).startsWith("labels");
	}

	static Stream<Arguments> hostileInferenceInputs() {
		return Stream.of(
				Arguments.of("overflowing shape",
						"{\"inputs\":[{\"name\":\"images\",\"datatype\":\"FP32\","
								+ "\"shape\":[4294967296,4294967296,1,8],\"data\":[1]}]}",
						413, "inputs[0].shape"),
				Arguments.of("FP32 beyond float",
						"{\"inputs\":[{\"name\":\"images\",\"datatype\":\"FP32\",\"shape\":[1],\"data\":[1e39]}]}", 400,
						"inputs[0].data[0]"),
				Arguments.of("INT32 beyond int",
						"{\"inputs\":[{\"name\":\"images\",\"datatype\":\"INT32\",\"shape\":[1],"
								+ "\"data\":[2147483648]}]}",
						400, "inputs[0].data[0]"),
				Arguments.of("INT64 beyond long",
						"{\"inputs\":[{\"name\":\"images\",\"datatype\":\"INT64\",\"shape\":[1],"
								+ "\"data\":[9223372036854775808]}]}",
						400, "inputs[0].data[0]"),
				Arguments.of("NaN",
						"{\"inputs\":[{\"name\":\"images\",\"datatype\":\"FP32\",\"shape\":[1]," + "\"data\":[NaN]}]}",
						400, "inputs[0].data"),
				Arguments.of("malformed JSON", "{\"inputs\":[{\"name\":", 400, "inputs[0].name"),
				Arguments.of("unknown field", "{\"inputz\":[]}", 400, "inputz"),
				Arguments.of("string element", "{\"inputs\":[{\"name\":\"images\",\"datatype\":\"FP32\","
						+ "\"shape\":[1],\"data\":[\"1\"]}]}", 400, "inputs[0].data[0]"));
	}

	@ParameterizedTest(name = "{0}")
	@MethodSource("hostileInferenceInputs")
	void hostileInferenceInputsGetTheV2ErrorNamingTheField(String description, String body, int status, String field) {
		Response response = this.api.postRaw("/v2/models/" + this.model + "/infer", "application/json",
				body.getBytes(StandardCharsets.UTF_8));
		assertThat(response.code()).as(new String(response.body())).isEqualTo(status);
		assertThat(response.contentType()).startsWith("application/json");
		String error = response.json().get("error").asString();
		assertThat(error).startsWith(field);
		assertNoJavaNames(error);
	}

	@Test
	void inferenceInputsDecodeWhicheverOrderTheirFieldsCome() {
		float[] images = Fixtures.floats(Fixtures.path("digits/testset.safetensors")).get("images_clean");
		StringBuilder data = new StringBuilder();
		for (int i = 0; i < 64; i++) {
			data.append((i > 0) ? "," : "").append(images[i]);
		}
		String dataFirst = "{\"inputs\":[{\"data\":[" + data
				+ "],\"shape\":[1,1,8,8],\"name\":\"images\",\"datatype\":\"FP32\"}]}";
		String dataLast = "{\"inputs\":[{\"name\":\"images\",\"datatype\":\"FP32\",\"shape\":[1,1,8,8],\"data\":[[["
				+ data + "]]]}]}";
		Response first = this.api.postRaw("/v2/models/" + this.model + "/infer", "application/json",
				dataFirst.getBytes(StandardCharsets.UTF_8));
		Response last = this.api.postRaw("/v2/models/" + this.model + "/infer", "application/json",
				dataLast.getBytes(StandardCharsets.UTF_8));
		assertThat(first.code()).as(new String(first.body())).isEqualTo(200);
		assertThat(last.code()).as(new String(last.body())).isEqualTo(200);
		assertThat(first.json().get("outputs").get(0).get("data").size()).isEqualTo(10);
		assertThat(first.json().get("outputs")).isEqualTo(last.json().get("outputs"));
	}

	@Test
	void evaluationInputsOfTheWrongRankOrSizeAreRefused() {
		Response flat = evaluate(Map.of("inputs", "flat"));
		assertProblem(flat, 400, "inputs");
		assertThat(flat.json().get("detail").asString()).contains("rank");
		Response wide = evaluate(Map.of("inputs", "wide"));
		assertProblem(wide, 400, "inputs");
		assertThat(wide.json().get("detail").asString()).contains("[-1, 1, 8, 8]");
	}

	@Test
	void hugeEvaluationBatchSizeIsRefusedWithTheLimit() {
		Response huge = evaluate(Map.of("inputs", "wide", "batchSize", Integer.MAX_VALUE));
		assertProblem(huge, 400, "batchSize");
		assertThat(huge.json().get("detail").asString()).contains("4096");
	}

	@Test
	void catastrophicRegexesInIncludeExcludeAndTargetModulesReturnAtOnce() {
		byte[] base = Fixtures.f32(Map.of(CATASTROPHIC_NAME, new long[] { 2 }),
				Map.of(CATASTROPHIC_NAME, new float[] { 1, 2 }));
		byte[] tuned = Fixtures.f32(Map.of(CATASTROPHIC_NAME, new long[] { 2 }),
				Map.of(CATASTROPHIC_NAME, new float[] { 1, 3 }));
		String baseId = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "regex-base")).bytes("weights", "base.safetensors", base));
		String tunedId = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "regex-tuned")).bytes("weights", "tuned.safetensors", tuned));
		assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
			Response included = this.api.postJson("/api/v1/patches/diff", Map.of("name", "regex-include", "baseModelId",
					baseId, "finetunedModelId", tunedId, "include", List.of(CATASTROPHIC_REGEX)));
			assertThat(included.code()).as("nothing matches, so nothing to diff").isEqualTo(422);
			Response excluded = this.api.postJson("/api/v1/patches/diff", Map.of("name", "regex-exclude", "baseModelId",
					baseId, "finetunedModelId", tunedId, "exclude", List.of(CATASTROPHIC_REGEX)));
			assertThat(excluded.code()).as(new String(excluded.body())).isEqualTo(201);
			String config = "{\"peft_type\":\"LORA\",\"r\":1,\"lora_alpha\":1,\"target_modules\":\""
					+ CATASTROPHIC_REGEX.replace("\\", "\\\\") + "\"}";
			String module = "base_model.model." + CATASTROPHIC_NAME;
			byte[] adapter = Fixtures.f32(
					Map.of(module + ".lora_A.weight", new long[] { 1, 2 }, module + ".lora_B.weight",
							new long[] { 2, 1 }),
					Map.of(module + ".lora_A.weight", new float[2], module + ".lora_B.weight", new float[2]));
			Response lora = this.api.postMultipart("/api/v1/patches",
					multipart(Map.of("kind", "lora", "name", "regex-lora"))
						.bytes("adapter_config", "adapter_config.json", config.getBytes())
						.bytes("adapter_model", "adapter_model.safetensors", adapter));
			assertProblem(lora, 400, null);
			assertThat(lora.json().get("detail").asString()).contains("not in target_modules");
		});
		Response invalid = this.api.postJson("/api/v1/patches/diff", Map.of("name", "regex-invalid", "baseModelId",
				baseId, "finetunedModelId", tunedId, "include", List.of("ok", "(")));
		assertProblem(invalid, 400, "include[1]");
		Response expanding = this.api.postJson("/api/v1/patches/diff", Map.of("name", "regex-expanding", "baseModelId",
				baseId, "finetunedModelId", tunedId, "exclude", List.of("((a{1000}){1000}){1000}")));
		assertProblem(expanding, 400, "exclude[0]");
	}

	static Stream<Arguments> outOfRangeRecipes() {
		return Stream.of(Arguments.of(Map.of("weight", 1e39), "terms[0].weight"),
				Arguments.of(Map.of("weight", -1e39), "terms[0].weight"),
				Arguments.of(Map.of("method", "ties", "density", 0), "density"),
				Arguments.of(Map.of("method", "ties", "density", 1.5), "density"),
				Arguments.of(Map.of("method", "dare_linear"), "density"),
				Arguments.of(Map.of("metod", "ties"), "metod"), Arguments.of(Map.of("method", "tie"), "method"),
				Arguments.of(Map.of("outputDtype", "I8"), "outputDtype"));
	}

	@ParameterizedTest(name = "{0}")
	@MethodSource("outOfRangeRecipes")
	void outOfRangeRecipesNameTheField(Map<String, Object> change, String field) {
		Map<String, Object> term = new LinkedHashMap<>(Map.of("patchId", this.patch));
		Map<String, Object> recipe = new LinkedHashMap<>(Map.of("baseModelId", this.model));
		change.forEach((key, value) -> (key.equals("weight") ? term : recipe).put(key, value));
		recipe.put("terms", List.of(term));
		Response response = this.api.postJson("/api/v1/compositions", recipe);
		assertProblem(response, 400, field);
	}

	@Test
	void recipeWithMoreTermsThanTheLimitIsRefusedWithTheLimit() {
		List<Map<String, Object>> terms = new ArrayList<>(
				Collections.nCopies(1000, Map.of("patchId", this.patch, "weight", 0.001)));
		Response response = this.api.postJson("/api/v1/compositions",
				Map.of("baseModelId", this.model, "terms", terms));
		assertProblem(response, 400, "terms");
		assertThat(response.json().get("detail").asString()).contains("1000").contains("64");
	}

	/**
	 * A patchId that is not a UUID is a reference (name@alias …), so it is not
	 * unreadable: an unknown one is a 404 naming the field
	 * (NamesAndVersionsIntegrationTests).
	 */
	static Stream<Arguments> unreadableBodies() {
		return Stream.of(
				Arguments.of("NaN weight", "{\"baseModelId\":\"%s\",\"terms\":[{\"patchId\":\"%s\",\"weight\":NaN}]}",
						"terms[0].weight", "NaN"),
				Arguments.of("terms not a list", "{\"baseModelId\":\"%s\",\"terms\":\"%s\"}", "terms", "list"),
				Arguments.of("weight not a number",
						"{\"baseModelId\":\"%s\",\"terms\":[{\"patchId\":\"%s\",\"weight\":\"heavy\"}]}",
						"terms[0].weight", "number"),
				Arguments.of("overlong number",
						"{\"baseModelId\":\"%s\",\"terms\":[{\"patchId\":\"%s\",\"weight\":1" + "0".repeat(1500)
								+ "}]}",
						"terms[0]", "1000"),
				Arguments.of("truncated", "{\"baseModelId\":\"%s\",\"terms\":[{\"patchId\":\"%s\"", "terms[0]",
						"ends"));
	}

	@ParameterizedTest(name = "{0}")
	@MethodSource("unreadableBodies")
	void unreadableBodiesNameTheFieldAndNoJavaType(String description, String template, String field, String hint) {
		Response response = this.api.postRaw("/api/v1/compositions", "application/json",
				String.format(template, this.model, this.patch).getBytes(StandardCharsets.UTF_8));
		assertProblem(response, 400, null);
		assertThat(response.json().get("field").asString()).startsWith(field);
		assertThat(response.json().get("detail").asString()).contains(hint);
	}

	@Test
	void labelsOfTheWrongTypeSayWhatTheyMustBe() {
		Response response = this.api.postRaw("/api/v1/patches/diff", "application/json",
				("{\"name\":\"typed\",\"baseModelId\":\"" + this.model + "\",\"finetunedModelId\":\"" + this.model
						+ "\",\"labels\":\"team\"}")
					.getBytes(StandardCharsets.UTF_8));
		assertProblem(response, 400, "labels");
		assertThat(response.json().get("detail").asString()).isEqualTo("labels: must be an object");
	}

	@Test
	void unknownFieldsInMetadataAndUnknownPartsAreRefused() {
		Response field = this.api.postMultipart("/api/v1/models", multipart(Map.of("name", "typo", "familly", "x"))
			.file("weights", Fixtures.path("digits/base_v1.safetensors")));
		assertProblem(field, 400, "metadata.familly");
		Response part = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "extra-part")).file("weights", Fixtures.path("digits/base_v1.safetensors"))
					.bytes("weigths", "x.safetensors", new byte[8]));
		assertProblem(part, 400, "weigths");
		assertThat(this.api.get("/api/v1/models?name=extra-part").json().get("totalItems").asLong()).isZero();
	}

	@Test
	void pathInAFilenameIsReducedToItsBaseName() {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "traversal")).bytes("weights", "../../x.safetensors",
						Fixtures.f32(Map.of("w", new long[] { 1 }), Map.of("w", new float[] { 1 }))));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		assertThat(response.json().get("files").get(0).get("fileName").asString()).isEqualTo("x.safetensors");
	}

	@Test
	void uploadBeyondTheLimitStatesTheFieldAndTheConfiguredLimit() {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "too-large")).bytes("weights", "big.safetensors", new byte[2 << 20]));
		assertProblem(response, 413, "weights");
		assertThat(response.json().get("detail").asString()).contains("1048576").doesNotContain("-1");
		assertThat(response.json().get("limitBytes").asLong()).isEqualTo(1 << 20);
	}

	private Response evaluate(Map<String, Object> request) {
		Map<String, Object> body = new LinkedHashMap<>(
				Map.of("modelId", this.model, "datasetId", this.dataset, "labels", "labels"));
		body.putAll(request);
		return this.api.postJson("/api/v1/evaluations", body);
	}

	/** A problem of that status naming that field (unchecked when null), without Java. */
	private static void assertProblem(Response response, int status, String field) {
		assertThat(response.code()).as(new String(response.body())).isEqualTo(status);
		assertThat(response.contentType()).isEqualTo("application/problem+json");
		JsonNode problem = response.json();
		if (field != null) {
			assertThat(problem.get("field")).as(problem.toString()).isNotNull();
			assertThat(problem.get("field").asString()).isEqualTo(field);
		}
		assertNoJavaNames(problem.toString());
	}

	private static void assertNoJavaNames(String text) {
		assertThat(text).doesNotContain("java.", "dev.patchbay", "Exception", "LinkedHashMap", "StreamReadConstraints",
				"Failed to read request", "`");
	}

}
