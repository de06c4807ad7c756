package dev.patchbay.api;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpMethod;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The KServe v2 protocol beyond inference itself: server metadata, open health probes,
 * model readiness, the version paths the metadata advertises, a selection of outputs, and
 * the protocol's error body for every failure under /v2.
 */
@IntegrationTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class KServeIntegrationTests {

	private static final Map<String, Object> SIGNATURE = Map.of("inputs",
			List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))), "outputs",
			List.of(Map.of("name", "logits", "datatype", "FP32", "shape", List.of(-1, 10))));

	@Autowired
	ApiClient api;

	private String model;

	private String graphless;

	@BeforeAll
	void registerModels() {
		this.model = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "kserve-digits", "signature", SIGNATURE))
					.file("weights", Fixtures.path("digits/base_v2.safetensors"))
					.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		this.graphless = this.api.upload("/api/v1/models", multipart(Map.of("name", "kserve-no-graph")).file("weights",
				Fixtures.path("digits/base_v1.safetensors")));
	}

	@Test
	void serverMetadataNamesTheServerAndItsExtensions() {
		Response server = this.api.get("/v2");
		assertThat(server.code()).isEqualTo(200);
		assertThat(server.json().get("name").asString()).isEqualTo("patchbay");
		assertThat(server.json().get("version").asString()).isNotBlank();
		assertThat(server.json().get("extensions").isArray()).isTrue();
	}

	@Test
	void healthProbesNeedNoKeyButModelsDo() {
		ApiClient anonymous = this.api.withKey(null);
		Response live = anonymous.get("/v2/health/live");
		assertThat(live.code()).isEqualTo(200);
		assertThat(live.json().get("live").asBoolean()).isTrue();
		Response ready = anonymous.get("/v2/health/ready");
		assertThat(ready.code()).isEqualTo(200);
		assertThat(ready.json().get("ready").asBoolean()).isTrue();
		assertThat(anonymous.get("/v2/models/" + this.model + "/ready").code()).isEqualTo(401);
	}

	@Test
	void aModelIsReadyWhenItHasAGraphAndACompositionOnceComputed() {
		Response ready = this.api.get("/v2/models/" + this.model + "/ready");
		assertThat(ready.code()).isEqualTo(200);
		assertThat(ready.json().get("name").asString()).isEqualTo(this.model);
		assertThat(ready.json().get("ready").asBoolean()).isTrue();
		Response notReady = this.api.get("/v2/models/" + this.graphless + "/ready");
		assertThat(notReady.code()).isEqualTo(400);
		assertThat(notReady.json().get("ready").asBoolean()).isFalse();
		String lora = this.api.uploadLora("kserve-lora", "digits/lora_flip_v2");
		String composition = this.api.compose(Map.of("baseModelId", this.model, "terms",
				List.of(Map.of("patchId", lora, "weight", 1.0)), "materialize", true));
		this.api.awaitReady(composition, Duration.ofSeconds(30));
		Response computed = this.api.get("/v2/models/" + composition + "/ready");
		assertThat(computed.code()).isEqualTo(200);
		assertThat(computed.json().get("ready").asBoolean()).isTrue();
		Response unknown = this.api.get("/v2/models/0b7c3f65-0000-4000-8000-000000000000/ready");
		assertThat(unknown.code()).isEqualTo(404);
		assertThat(unknown.json().get("error").asString()).contains("0b7c3f65");
	}

	@Test
	void everyVersionTheMetadataAdvertisesHasItsPaths() {
		JsonNode metadata = this.api.get("/v2/models/" + this.model).json();
		assertThat(metadata.get("versions").valueStream().map(JsonNode::asString)).containsExactly("1");
		String version = "/v2/models/" + this.model + "/versions/" + metadata.get("versions").get(0).asString();
		Response versioned = this.api.get(version);
		assertThat(versioned.code()).isEqualTo(200);
		assertThat(versioned.json()).isEqualTo(metadata);
		assertThat(this.api.get(version + "/ready").json().get("ready").asBoolean()).isTrue();
		Response inferred = this.api.postJson(version + "/infer", request(null));
		assertThat(inferred.code()).as(new String(inferred.body())).isEqualTo(200);
		assertThat(inferred.json().get("outputs").get(0).get("shape").toString()).isEqualTo("[1,10]");
		Response missing = this.api.get("/v2/models/" + this.model + "/versions/2");
		assertThat(missing.code()).isEqualTo(404);
		assertThat(missing.json().get("error").asString()).contains("version '2'");
		assertThat(this.api.postJson("/v2/models/" + this.model + "/versions/2/infer", request(null)).code())
			.isEqualTo(404);
		assertThat(this.api.get("/v2/models/" + this.model + "/versions/2/ready").code()).isEqualTo(404);
	}

	@Test
	void onlyTheOutputsAskedForAreReturnedAndAnUnknownOneIsRejected() {
		Response named = this.api.postJson("/v2/models/" + this.model + "/infer",
				request(List.of(Map.of("name", "logits", "parameters", Map.of("binary_data", false)))));
		assertThat(named.code()).as(new String(named.body())).isEqualTo(200);
		assertThat(named.json().get("outputs").valueStream().map((output) -> output.get("name").asString()))
			.containsExactly("logits");
		Response unknown = this.api.postJson("/v2/models/" + this.model + "/infer",
				request(List.of(Map.of("name", "logits"), Map.of("name", "probabilities"))));
		assertThat(unknown.code()).isEqualTo(400);
		assertThat(unknown.json().get("error").asString()).contains("probabilities").contains("[logits]");
		Response unnamed = this.api.postJson("/v2/models/" + this.model + "/infer",
				request(List.of(Map.of("parameters", Map.of()))));
		assertThat(unnamed.code()).isEqualTo(400);
		assertThat(unnamed.json().get("error").asString()).contains("outputs[0].name");
	}

	@Test
	void failuresOfEveryKindUnderV2GetTheProtocolsErrorBody() {
		Response anonymous = this.api.withKey(null).get("/v2/models/" + this.model);
		assertThat(anonymous.code()).isEqualTo(401);
		assertThat(anonymous.header("WWW-Authenticate")).containsExactly("Bearer realm=\"patchbay\"");
		Response noRoute = this.api.get("/v2/repository/index");
		Response wrongMethod = this.api.send(HttpMethod.DELETE, "/v2/models/" + this.model);
		Response wrongType = this.api.postRaw("/v2/models/" + this.model + "/infer", "text/plain", "x".getBytes());
		Response malformed = this.api.postRaw("/v2/models/" + this.model + "/infer", "application/json",
				"{\"inputs\": [".getBytes());
		assertThat(List.of(anonymous, noRoute, wrongMethod, wrongType, malformed)).extracting(Response::code)
			.containsExactly(401, 404, 405, 415, 400);
		for (Response response : List.of(anonymous, noRoute, wrongMethod, wrongType, malformed)) {
			assertThat(response.contentType()).startsWith("application/json");
			assertThat(response.json().get("error").asString()).isNotBlank();
			assertThat(response.json().has("type")).as("no problem detail").isFalse();
		}
	}

	private static Map<String, Object> request(List<Map<String, Object>> outputs) {
		Map<String, Object> request = new java.util.LinkedHashMap<>(Map.of("inputs", List
			.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(1, 1, 8, 8), "data", new float[64]))));
		if (outputs != null) {
			request.put("outputs", outputs);
		}
		return request;
	}

}
