package dev.patchbay.api;

import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

@IntegrationTest
class SecurityHeadersIntegrationTests {

	@Autowired
	ApiClient api;

	@Test
	void everyKindOfResponseForbidsContentSniffing() {
		String id = this.api.upload("/api/v1/models", multipart(Map.of("name", "nosniff-" + UUID.randomUUID()))
			.file("weights", Fixtures.path("digits/base_v1.safetensors")));
		Map<String, Response> responses = Map.of("json", this.api.get("/api/v1/models/" + id), "download",
				this.api.get("/api/v1/models/" + id + "/weights"), "range",
				this.api.get("/api/v1/models/" + id + "/weights", "Range", "bytes=0-99"), "problem",
				this.api.get("/api/v1/models/" + UUID.randomUUID()), "unauthenticated",
				this.api.withKey(null).get("/api/v1/models"), "kserve", this.api.get("/v2/health/live"), "actuator",
				this.api.get("/actuator/health"), "no handler", this.api.get("/no/such/path"));
		responses.forEach((kind, response) -> assertThat(response.header("X-Content-Type-Options"))
			.as("%s (%d)", kind, response.code())
			.containsExactly("nosniff"));
		assertThat(responses.get("range").code()).isEqualTo(206);
		assertThat(responses.get("unauthenticated").code()).isEqualTo(401);
	}

	@Test
	void theResponseRevealingANewKeyIsNotStoredByAnyCache() {
		Response issued = this.api.postJson("/api/v1/keys", Map.of("name", "no-store", "role", "reader"));
		assertThat(issued.code()).isEqualTo(201);
		assertThat(issued.json().get("key").asString()).isNotBlank();
		assertThat(issued.header("Cache-Control")).containsExactly("no-store");
	}

}
