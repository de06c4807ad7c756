package dev.patchbay.api;

import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.IntegrationTest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The request bodies that live in api are read as the contract has them: an unknown
 * field, top-level or nested, is a 400 naming it before anything is looked up.
 */
@IntegrationTest
class RequestBodiesIntegrationTests {

	@Autowired
	ApiClient api;

	static Stream<String[]> unknownFields() {
		return Stream.of(new String[] { "/api/v1/compositions", "{\"baseModelId\": \"m\", \"term\": []}", "term" },
				new String[] { "/api/v1/compositions", "{\"terms\": [{\"patchId\": \"p\", \"weigth\": 1}]}",
						"terms[0].weigth" },
				new String[] { "/api/v1/patches/diff", "{\"name\": \"d\", \"finetuned\": \"m\"}", "finetuned" },
				new String[] { "/api/v1/patches/rws", "{\"name\": \"r\", \"quantization\": {\"bit\": 8}}",
						"quantization.bit" },
				new String[] { "/api/v1/patches/lora-combination", "{\"name\": \"c\", \"method\": \"cat\"}", "method" },
				new String[] { "/api/v1/patches/lora-extraction", "{\"name\": \"e\", \"ranks\": 4}", "ranks" },
				new String[] { "/api/v1/models/no-such-model/transforms",
						"{\"kind\": \"inherit\", \"config\": {\"hiddenSize\": 8}}", "config.hiddenSize" });
	}

	@ParameterizedTest(name = "{0} {2}")
	@MethodSource("unknownFields")
	void refusesAnUnknownFieldNamingIt(String path, String body, String field) {
		Response response = this.api.postRaw(path, "application/json", body.getBytes());
		assertThat(response.code()).as(new String(response.body())).isEqualTo(400);
		assertThat(response.json().get("field").asString()).isEqualTo(field);
		assertThat(response.json().get("detail").asString()).contains("is not a known field");
	}

}
