package dev.patchbay.api;

import java.util.List;
import java.util.UUID;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.IntegrationTest;

import static org.assertj.core.api.Assertions.assertThat;

@IntegrationTest
@TestPropertySource(properties = "logging.structured.format.console=ecs")
@ExtendWith(OutputCaptureExtension.class)
class RequestLoggingIntegrationTests {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	@Autowired
	ApiClient api;

	@Test
	void aCallersRequestIdIsEchoedPutOnTheProblemAndOnTheJsonLogLine(CapturedOutput output) {
		String path = "/api/v1/models/" + UUID.randomUUID();
		Response response = this.api.get(path, "X-Request-Id", "trace-42.a");
		assertThat(response.code()).isEqualTo(404);
		assertThat(response.header("X-Request-Id")).containsExactly("trace-42.a");
		assertThat(response.json().get("requestId").asString()).isEqualTo("trace-42.a");
		assertThat(jsonLines(output)).anySatisfy((line) -> {
			assertThat(line.path("requestId").asString()).isEqualTo("trace-42.a");
			assertThat(line.path("message").asString()).startsWith("GET " + path + " 404 ");
		});
	}

	@Test
	void everyResponseGetsARequestIdEvenWhenRejected(CapturedOutput output) {
		Response anonymous = this.api.withKey(null).get("/api/v1/models", "X-Request-Id", "bad id with spaces");
		assertThat(anonymous.code()).isEqualTo(401);
		String id = anonymous.header("X-Request-Id").get(0);
		assertThat(UUID.fromString(id)).as("a generated id replaces an implausible one").isNotNull();
		assertThat(anonymous.json().get("requestId").asString()).isEqualTo(id);
		assertThat(jsonLines(output)).anySatisfy((line) -> assertThat(line.path("requestId").asString()).isEqualTo(id));
	}

	private static List<JsonNode> jsonLines(CapturedOutput output) {
		return output.getOut().lines().filter((line) -> line.startsWith("{")).map(JSON::readTree).toList();
	}

}
