package dev.patchbay.api;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.annotation.Qualifier;
import org.springframework.web.servlet.mvc.method.annotation.RequestMappingHandlerMapping;

import dev.patchbay.support.ApiClient;
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
	void swaggerUiServesTheRootContract() throws IOException {
		assertThat(this.api.get("/swagger-ui.html").code()).isIn(200, 302);
		assertThat(this.api.get("/swagger-ui/index.html").code()).isEqualTo(200);
		assertThat(new String(this.api.get("/openapi.yaml").body()))
			.isEqualTo(Files.readString(Path.of("openapi.yaml")));
	}

	/**
	 * A catch-all segment ({@code {*path}}, which may hold slashes) is documented as a
	 * plain path parameter.
	 */
	private static String documentedForm(String pattern) {
		return pattern.replaceAll("\\{\\*(\\w+)}", "{$1}");
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
