package dev.patchbay.api;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping;

import dev.patchbay.security.Role;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.IntegrationTest;

import static org.assertj.core.api.Assertions.assertThat;

@IntegrationTest
class OpenApiContractIntegrationTests {

	@Autowired
	@Qualifier("requestMappingHandlerMapping")
	RequestMappingHandlerMapping mappings;

	@Autowired
	ApiClient api;

	@Test
	void everyServedEndpointIsDocumentedAndEveryDocumentedEndpointIsServed() throws IOException {
		Set<String> served = new TreeSet<>();
		this.mappings.getHandlerMethods().forEach((info, method) -> {
			if (method.getBeanType().getPackageName().startsWith("dev.patchbay")) {
				info.getPathPatternsCondition()
					.getPatternValues()
					.forEach((path) -> info.getMethodsCondition()
						.getMethods()
						.forEach((verb) -> served.add(verb.name() + " " + documentedForm(path))));
			}
		});
		assertThat(served).isNotEmpty().isEqualTo(documented());
	}

	@Test
	void swaggerUiServesTheRootContractAndNoOtherSpecIsServed() throws IOException {
		ApiClient anonymous = this.api.withKey(null);
		Response welcome = anonymous.get("/swagger-ui.html");
		assertThat(welcome.code()).isIn(200, 302);
		if (welcome.code() == 302) {
			assertThat(welcome.header("Location")).singleElement().asString().endsWith("/swagger-ui/index.html");
		}
		String page = new String(anonymous.get("/swagger-ui/index.html").body());
		assertThat(page).contains("/webjars/swagger-ui/swagger-ui-bundle.js", "/swagger-ui/swagger-initializer.js");
		assertThat(new String(anonymous.get("/swagger-ui/swagger-initializer.js").body()))
			.contains("url: \"/openapi.yaml\"");
		for (String script : List.of("swagger-ui-bundle.js", "swagger-ui-standalone-preset.js", "swagger-ui.css")) {
			assertThat(anonymous.get("/webjars/swagger-ui/" + script).code()).as(script).isEqualTo(200);
		}
		assertThat(new String(anonymous.get("/openapi.yaml").body()))
			.isEqualTo(Files.readString(Path.of("openapi.yaml")));
		assertThat(this.api.get("/v3/api-docs").code()).as("no generated spec").isEqualTo(404);
		assertThat(this.api.get("/v3/api-docs.yaml").code()).as("no generated spec").isEqualTo(404);
	}

	@Test
	void everyOperationHasAUniqueOperationId() throws IOException {
		List<String> ids = operations().stream().map((operation) -> (String) operation.get("operationId")).toList();
		assertThat(ids).doesNotContainNull().doesNotHaveDuplicates().hasSize(documented().size());
	}

	/**
	 * 401 wherever a key is needed, and 403 wherever the key's role may fall short: every
	 * key has at least {@code reader}, so operations needing only that never answer 403.
	 */
	@Test
	@SuppressWarnings("unchecked")
	void everySecuredOperationDocumentsTheAuthenticationFailuresItCanAnswer() throws IOException {
		List<String> missing = new ArrayList<>();
		for (Map<String, Object> operation : operations()) {
			String verb = (String) operation.get("verb");
			String path = (String) operation.get("path");
			Optional<Role> role = ApiKeyFilter.requiredRole(verb, path.replaceAll("\\{[^}]+}", "x"));
			Set<String> codes = ((Map<String, Object>) operation.get("responses")).keySet();
			boolean open = List.of().equals(operation.get("security"));
			assertThat(open).as(verb + " " + path + " is open exactly when the filter lets it through")
				.isEqualTo(role.isEmpty());
			if (role.isPresent() && !codes.contains("401")) {
				missing.add(verb + " " + path + ": 401");
			}
			if (role.isPresent() && role.get() != Role.READER && !codes.contains("403")) {
				missing.add(verb + " " + path + ": 403");
			}
		}
		assertThat(missing).isEmpty();
	}

	/**
	 * A catch-all segment ({@code {*path}}, which may hold slashes) is documented as a
	 * plain path parameter.
	 */
	private static String documentedForm(String pattern) {
		return pattern.replaceAll("\\{\\*(\\w+)}", "{$1}");
	}

	/** Each operation with its {@code verb} and {@code path} added. */
	@SuppressWarnings("unchecked")
	private static List<Map<String, Object>> operations() throws IOException {
		try (InputStream in = Files.newInputStream(Path.of("openapi.yaml"))) {
			Map<String, Map<String, Object>> paths = (Map<String, Map<String, Object>>) new Yaml()
				.<Map<String, Object>>load(in)
				.get("paths");
			List<Map<String, Object>> operations = new ArrayList<>();
			paths.forEach((path, item) -> item.forEach((verb, operation) -> {
				if (Set.of("get", "post", "put", "delete", "patch").contains(verb)) {
					Map<String, Object> described = new HashMap<>((Map<String, Object>) operation);
					described.put("verb", verb.toUpperCase());
					described.put("path", path);
					operations.add(described);
				}
			}));
			return operations;
		}
	}

	@SuppressWarnings("unchecked")
	private static Set<String> documented() throws IOException {
		try (InputStream in = Files.newInputStream(Path.of("openapi.yaml"))) {
			Map<String, Map<String, Object>> paths = (Map<String, Map<String, Object>>) new Yaml()
				.<Map<String, Object>>load(in)
				.get("paths");
			Set<String> documented = new TreeSet<>();
			paths.forEach((path, operations) -> operations.keySet()
				.stream()
				.filter((key) -> Set.of("get", "post", "put", "delete", "patch").contains(key))
				.forEach((verb) -> documented.add(verb.toUpperCase() + " " + path)));
			return documented;
		}
	}

}
