package dev.patchbay.api;

import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.stream.Stream;

import jakarta.servlet.http.HttpServletRequest;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;
import org.springframework.http.HttpMethod;
import org.springframework.mock.web.MockHttpServletResponse;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.request.MockHttpServletRequestBuilder;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;

import dev.patchbay.security.ApiKeys;
import dev.patchbay.security.IssuedKey;
import dev.patchbay.security.Role;
import dev.patchbay.storage.StorageProperties;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.AutoConfigureDatabase;

import static org.assertj.core.api.Assertions.assertThat;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.request;

/**
 * The key filter in front of a test endpoint that answers every path, with the real key
 * store on the real database: keys are issued as an admin would, and the filter checks
 * them as it does in production. No controller of ours runs, so a request that passes the
 * filter is seen as admitted, with the role the filter gave it.
 */
@WebMvcTest(controllers = ApiKeyFilterWebMvcTests.AnyEndpoint.class,
		properties = { "patchbay.data-dir=target/test-data/${random.uuid}",
				"patchbay.security.admin-key=" + ApiClient.TEST_ADMIN_KEY },
		includeFilters = @ComponentScan.Filter(type = FilterType.REGEX,
				pattern = "dev\\.patchbay\\.security\\.(ApiKeys|SecurityProperties)"))
@AutoConfigureDatabase
@Import({ ApiKeyFilterWebMvcTests.AnyEndpoint.class, ApiKeyFilterWebMvcTests.SliceBeans.class })
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ApiKeyFilterWebMvcTests {

	private static final String ANY_ID = UUID.randomUUID().toString();

	@Autowired
	MockMvc mvc;

	@Autowired
	ApiKeys keys;

	private final Map<Role, String> issued = new EnumMap<>(Role.class);

	@BeforeAll
	void issueOneKeyPerRole() {
		for (Role role : Role.values()) {
			this.issued.put(role, this.keys.issue("test-" + role.wireName(), role.wireName()).key());
		}
	}

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
				Arguments.of("GET", "/actuator/prometheus", "reader"),
				// Near the open paths, but not one of them.
				Arguments.of("GET", "/actuator/healthz", "reader"));
	}

	@ParameterizedTest(name = "{0} {1} needs {2}")
	@MethodSource("endpoints")
	void everyEndpointFamilyAdmitsExactlyTheRolesThatIncludeItsRole(String method, String path, String required)
			throws Exception {
		MockHttpServletResponse anonymous = send(method, path, null);
		assertThat(anonymous.getStatus()).as("no key").isEqualTo(401);
		if (path.startsWith("/v2")) {
			// KServe clients read the protocol's own error body.
			assertThat(anonymous.getContentType()).startsWith("application/json");
			assertThat(anonymous.getContentAsString()).contains("\"error\"").contains("API key");
		}
		else {
			assertThat(anonymous.getContentType()).startsWith("application/problem+json");
			assertThat(anonymous.getContentAsString()).contains("/unauthenticated\"");
		}
		assertThat(anonymous.getHeader("WWW-Authenticate")).isEqualTo("Bearer realm=\"patchbay\"");
		MockHttpServletResponse unknown = send(method, path, "Bearer pb_not-a-key");
		assertThat(unknown.getStatus()).as("unknown key").isEqualTo(401);
		assertThat(unknown.getContentAsString()).contains("not valid");

		List<String> roles = List.of("reader", "publisher", "admin");
		for (String role : roles) {
			MockHttpServletResponse response = send(method, path, "Bearer " + this.issued.get(Role.fromWireName(role)));
			if (roles.indexOf(role) < roles.indexOf(required)) {
				assertThat(response.getStatus()).as(role).isEqualTo(403);
				assertThat(response.getContentType()).startsWith("application/problem+json");
				assertThat(response.getContentAsString()).contains("\"requiredRole\":\"" + required + "\"")
					.contains("\"role\":\"" + role + "\"");
			}
			else {
				assertThat(response.getStatus()).as(role).isEqualTo(200);
				assertThat(response.getContentAsString()).isEqualTo("admitted as " + role);
			}
		}
	}

	@ParameterizedTest(name = "{0}")
	@ValueSource(strings = { "/actuator/health", "/actuator/health/readiness", "/v2/health/live", "/v2/health/ready",
			"/openapi.yaml", "/swagger-ui.html", "/swagger-ui/index.html", "/webjars/swagger-ui/5/swagger-ui.css" })
	void healthProbesAndApiDocsNeedNoKey(String path) throws Exception {
		MockHttpServletResponse response = send("GET", path, null);
		assertThat(response.getStatus()).isEqualTo(200);
		assertThat(response.getContentAsString()).isEqualTo("admitted as nobody");
	}

	@Test
	void theConfiguredAdminKeyIsAnAdmin() throws Exception {
		MockHttpServletResponse response = send("GET", "/api/v1/keys", "Bearer " + ApiClient.TEST_ADMIN_KEY);
		assertThat(response.getStatus()).isEqualTo(200);
		assertThat(response.getContentAsString()).isEqualTo("admitted as admin");
	}

	@Test
	void theBearerSchemeIsCaseInsensitiveAndNoOtherSchemeIsAccepted() throws Exception {
		String key = this.issued.get(Role.READER);
		assertThat(send("GET", "/api/v1/models", "bEARER " + key).getStatus()).isEqualTo(200);
		assertThat(send("GET", "/api/v1/models", "Basic " + key).getStatus()).isEqualTo(401);
		assertThat(send("GET", "/api/v1/models", key).getStatus()).isEqualTo(401);
	}

	@Test
	void aRevokedKeyIsRefused() throws Exception {
		IssuedKey key = this.keys.issue("soon-revoked", "publisher");
		assertThat(send("POST", "/api/v1/models", "Bearer " + key.key()).getStatus()).isEqualTo(200);
		this.keys.revoke(key.details().id());
		MockHttpServletResponse refused = send("POST", "/api/v1/models", "Bearer " + key.key());
		assertThat(refused.getStatus()).isEqualTo(401);
		assertThat(refused.getContentAsString()).contains("revoked");
	}

	private MockHttpServletResponse send(String method, String path, String authorization) throws Exception {
		MockHttpServletRequestBuilder request = request(HttpMethod.valueOf(method), path);
		if (authorization != null) {
			request.header("Authorization", authorization);
		}
		return this.mvc.perform(request).andReturn().getResponse();
	}

	/** Stands for every endpoint: whatever passes the filter is admitted here. */
	@RestController
	static class AnyEndpoint {

		@RequestMapping("/**")
		String admitted(HttpServletRequest request) {
			Object role = request.getAttribute(ApiKeyFilter.ROLE_ATTRIBUTE);
			return "admitted as " + ((role instanceof Role given) ? given.wireName() : "nobody");
		}

	}

	/** What the slice leaves out but the problem handler needs. */
	@TestConfiguration(proxyBeanMethods = false)
	@EnableConfigurationProperties(StorageProperties.class)
	static class SliceBeans {

	}

}
