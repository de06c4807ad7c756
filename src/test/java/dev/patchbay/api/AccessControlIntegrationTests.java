package dev.patchbay.api;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.http.HttpMethod;
import org.springframework.jdbc.core.simple.JdbcClient;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.IntegrationTest;

import static org.assertj.core.api.Assertions.assertThat;

@IntegrationTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class AccessControlIntegrationTests {

	private static final String ANY_ID = UUID.randomUUID().toString();

	@Autowired
	ApiClient admin;

	@Autowired
	JdbcClient database;

	private final Map<String, ApiClient> clients = new HashMap<>();

	/** One request per endpoint family and verb, with the least role it needs. */
	static Stream<Arguments> endpoints() {
		return Stream.of(Arguments.of("GET", "/api/v1/models", "reader"),
				Arguments.of("GET", "/api/v1/models/" + ANY_ID + "/weights", "reader"),
				Arguments.of("POST", "/api/v1/models", "publisher"),
				Arguments.of("PUT", "/api/v1/models/" + ANY_ID + "/graph", "publisher"),
				Arguments.of("POST", "/api/v1/models/" + ANY_ID + "/transforms", "publisher"),
				Arguments.of("DELETE", "/api/v1/models/" + ANY_ID, "publisher"),
				Arguments.of("GET", "/api/v1/patches/" + ANY_ID + "/compatibility?baseModelId=" + ANY_ID, "reader"),
				Arguments.of("POST", "/api/v1/patches", "publisher"),
				Arguments.of("POST", "/api/v1/patches/diff", "publisher"),
				Arguments.of("POST", "/api/v1/patches/rws", "publisher"),
				Arguments.of("DELETE", "/api/v1/patches/" + ANY_ID, "publisher"),
				Arguments.of("GET", "/api/v1/datasets", "reader"),
				Arguments.of("POST", "/api/v1/datasets", "publisher"),
				Arguments.of("DELETE", "/api/v1/datasets/" + ANY_ID, "publisher"),
				Arguments.of("GET", "/api/v1/compositions/" + ANY_ID, "reader"),
				Arguments.of("GET", "/api/v1/compositions/" + ANY_ID + "/weights", "reader"),
				Arguments.of("POST", "/api/v1/compositions", "publisher"),
				Arguments.of("DELETE", "/api/v1/compositions/" + ANY_ID, "publisher"),
				Arguments.of("GET", "/api/v1/evaluations/" + ANY_ID, "reader"),
				Arguments.of("POST", "/api/v1/evaluations", "publisher"),
				Arguments.of("GET", "/api/v1/sweeps/" + ANY_ID + "/chart.png", "reader"),
				Arguments.of("POST", "/api/v1/sweeps", "publisher"), Arguments.of("GET", "/v2", "reader"),
				Arguments.of("GET", "/v2/models/" + ANY_ID + "/ready", "reader"),
				Arguments.of("POST", "/v2/models/" + ANY_ID + "/versions/1/infer", "reader"),
				Arguments.of("GET", "/v2/models/" + ANY_ID, "reader"),
				Arguments.of("POST", "/v2/models/" + ANY_ID + "/infer", "reader"),
				Arguments.of("GET", "/api/v1/keys", "admin"), Arguments.of("POST", "/api/v1/keys", "admin"),
				Arguments.of("DELETE", "/api/v1/keys/" + ANY_ID, "admin"),
				Arguments.of("GET", "/api/v1/webhooks", "admin"), Arguments.of("POST", "/api/v1/webhooks", "admin"),
				Arguments.of("GET", "/api/v1/webhooks/" + ANY_ID + "/deliveries", "admin"),
				Arguments.of("DELETE", "/api/v1/webhooks/" + ANY_ID, "admin"),
				Arguments.of("GET", "/api/v1/compositions/" + ANY_ID + "/events", "reader"),
				Arguments.of("GET", "/actuator/prometheus", "reader"));
	}

	@ParameterizedTest(name = "{0} {1} needs {2}")
	@MethodSource("endpoints")
	void everyEndpointFamilyAdmitsExactlyTheRolesThatIncludeItsRole(String method, String path, String required) {
		Response anonymous = this.admin.withKey(null).send(HttpMethod.valueOf(method), path);
		assertThat(anonymous.code()).as("no key").isEqualTo(401);
		if (path.startsWith("/v2")) {
			// KServe clients read the protocol's own error body.
			assertThat(anonymous.contentType()).startsWith("application/json");
			assertThat(anonymous.json().get("error").asString()).contains("API key");
		}
		else {
			assertThat(anonymous.contentType()).startsWith("application/problem+json");
			assertThat(anonymous.json().get("type").asString()).endsWith("/unauthenticated");
		}
		assertThat(anonymous.header("WWW-Authenticate")).containsExactly("Bearer realm=\"patchbay\"");
		assertThat(this.admin.withKey("pb_not-a-key").send(HttpMethod.valueOf(method), path).code()).as("unknown key")
			.isEqualTo(401);

		List<String> roles = List.of("reader", "publisher", "admin");
		for (String role : roles) {
			Response response = client(role).send(HttpMethod.valueOf(method), path);
			if (roles.indexOf(role) < roles.indexOf(required)) {
				assertThat(response.code()).as(role).isEqualTo(403);
				assertThat(response.contentType()).startsWith("application/problem+json");
				assertThat(response.json().get("requiredRole").asString()).isEqualTo(required);
				assertThat(response.json().get("role").asString()).isEqualTo(role);
			}
			else {
				// Past the key check the request fails on its own terms (unknown id,
				// empty
				// body), which is not an authorization failure.
				assertThat(response.code()).as(role + ": " + new String(response.body())).isNotIn(401, 403);
			}
		}
	}

	@Test
	void healthAndApiDocsStayOpen() {
		ApiClient anonymous = this.admin.withKey(null);
		assertThat(anonymous.get("/actuator/health").code()).isEqualTo(200);
		assertThat(anonymous.get("/actuator/health/readiness").code()).isEqualTo(200);
		assertThat(anonymous.get("/v2/health/live").json().get("live").asBoolean()).isTrue();
		assertThat(anonymous.get("/v2/health/ready").json().get("ready").asBoolean()).isTrue();
		assertThat(anonymous.get("/openapi.yaml").code()).isEqualTo(200);
		assertThat(new String(anonymous.get("/openapi.yaml").body())).contains("scheme: bearer");
		assertThat(anonymous.get("/swagger-ui/index.html").code()).isEqualTo(200);
	}

	@Test
	void anIssuedKeyIsShownOnceStoredHashedAndStopsWorkingWhenRevoked() {
		Response issued = this.admin.postJson("/api/v1/keys", Map.of("name", "ci-reader", "role", "reader"));
		assertThat(issued.code()).isEqualTo(201);
		String key = issued.json().get("key").asString();
		String id = issued.json().get("id").asString();
		assertThat(key).startsWith("pb_").hasSizeGreaterThan(40);

		Response listed = this.admin.get("/api/v1/keys");
		assertThat(listed.json().findValues("id").stream().map((node) -> node.asString())).contains(id);
		assertThat(new String(listed.body())).doesNotContain(key);
		String stored = this.database.sql("select key_hash || prefix || name from api_key where id = :id")
			.param("id", UUID.fromString(id))
			.query(String.class)
			.single();
		assertThat(stored).doesNotContain(key);

		ApiClient reader = this.admin.withKey(key);
		assertThat(reader.get("/api/v1/models").code()).isEqualTo(200);
		assertThat(this.admin.delete("/api/v1/keys/" + id).code()).isEqualTo(204);
		assertThat(reader.get("/api/v1/models").code()).isEqualTo(401);
	}

	@Test
	void aKeyRequestNamingNoRoleOrAnUnknownOneIsRejectedNamingTheField() {
		Response unknown = this.admin.postJson("/api/v1/keys", Map.of("name", "x", "role", "root"));
		assertThat(unknown.code()).isEqualTo(400);
		assertThat(unknown.json().get("field").asString()).isEqualTo("role");
		Response unnamed = this.admin.postJson("/api/v1/keys", Map.of("role", "reader"));
		assertThat(unnamed.code()).isEqualTo(400);
		assertThat(unnamed.json().get("field").asString()).isEqualTo("name");
	}

	private ApiClient client(String role) {
		if (role.equals("admin")) {
			return this.admin;
		}
		return this.clients.computeIfAbsent(role,
				(name) -> this.admin
					.withKey(this.admin.postJson("/api/v1/keys", Map.of("name", "test-" + name, "role", name))
						.json()
						.get("key")
						.asString()));
	}

}
