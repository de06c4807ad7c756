package dev.patchbay.api;

import java.util.Map;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.simple.JdbcClient;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.IntegrationTest;

import static org.assertj.core.api.Assertions.assertThat;

@IntegrationTest
class AccessControlIntegrationTests {

	@Autowired
	ApiClient admin;

	@Autowired
	JdbcClient database;

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

}
