package dev.patchbay.api;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Conv adapters in the two layouts no library defines a format for, CP-LoRA (and CP-DoRA)
 * and loralib's ConvLoRA, uploaded and composed over HTTP against
 * {@code conv_adapters_seed4}.
 */
@IntegrationTest
class ConvAdapterIntegrationTests {

	private static final String DIR = "conv_adapters_seed4/";

	private static final JsonMapper JSON = JsonMapper.builder().build();

	@Autowired
	ApiClient api;

	@ParameterizedTest
	@ValueSource(strings = { "cp_lora_r4", "cp_lora_r6_rslora", "cp_dora_r4", "loralib_conv_r2" })
	void composingAConvAdapterMatchesItsReferenceMerge(String fixture) {
		JsonNode manifest = JSON.readTree(Fixtures.path(DIR + "manifest.json").toFile());
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "conv-base-" + fixture))
			.file("weights", Fixtures.path(DIR + "base.safetensors")));
		String patch = this.api.uploadLora("conv-" + fixture, DIR + fixture + "/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch, "weight", 1.0))));
		byte[] merged = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		CompositionIntegrationTests.assertClose(Fixtures.floats(merged),
				Fixtures.floats(Fixtures.path(DIR + fixture + "/expected_merged.safetensors")),
				(float) manifest.get("tolerance_abs").asDouble());
	}

	@Test
	void aCpAdapterMissingAFactorIsRefusedNamingIt() throws IOException {
		byte[] adapter = Files.readAllBytes(Fixtures.path(DIR + "cp_lora_r4/adapter/adapter_model.safetensors"));
		Map<String, float[]> tensors = Fixtures.floats(adapter);
		Map<String, long[]> shapes = Fixtures
			.shapes(Fixtures.path(DIR + "cp_lora_r4/adapter/adapter_model.safetensors"));
		String dropped = "base_model.model.enc.1.conv.lora_cp_kw.weight";
		tensors.remove(dropped);
		shapes.remove(dropped);
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "cp-missing-kw"))
					.file("adapter_config", Fixtures.path(DIR + "cp_lora_r4/adapter/adapter_config.json"))
					.bytes("adapter_model", "adapter_model.safetensors", Fixtures.f32(shapes, tensors)));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.json().get("type").asString()).isEqualTo("https://patchbay.dev/problems/invalid-adapter");
		assertThat(response.json().get("problems")).hasSize(1);
		assertThat(response.json().get("problems").get(0).get("tensor").asString()).isEqualTo("enc.1.conv");
		assertThat(response.json().get("detail").asString()).contains("lora_cp_kw");
	}

	@Test
	void aLoralibAdapterWhoseFactorsDoNotTileTheKernelIsRefused() throws IOException {
		// r = 4 against A's 6 rows: 6 is no multiple of r, so no kernel size fits.
		String config = Files.readString(Fixtures.path(DIR + "loralib_conv_r2/adapter/adapter_config.json"))
			.replace("\"r\": 2", "\"r\": 4");
		Response response = this.api.postMultipart("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", "loralib-bad-rank"))
					.bytes("adapter_config", "adapter_config.json", config.getBytes())
					.file("adapter_model", Fixtures.path(DIR + "loralib_conv_r2/adapter/adapter_model.safetensors")));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.json().get("problems").valueStream().map((p) -> p.get("tensor").asString()))
			.containsExactly("base_model.model.enc.0.conv.lora_A.weight", "base_model.model.enc.1.conv.lora_A.weight");
	}

	@Test
	void aCpAdapterForAnotherModelFailsTheCompatibilityCheck() {
		String base = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "conv-other-base")).bytes("weights", "other.safetensors",
						Fixtures.f32(Map.of("enc.0.conv.weight", new long[] { 16, 4, 5, 5 }),
								Map.of("enc.0.conv.weight", new float[16 * 4 * 5 * 5]))));
		String patch = this.api.uploadLora("conv-cp-other", DIR + "cp_lora_r4/adapter");
		Response report = this.api.get("/api/v1/patches/" + patch + "/compatibility?modelId=" + base);
		assertThat(report.code()).as(report.json().toString()).isEqualTo(200);
		JsonNode problems = report.json().get("problems");
		assertThat(problems.valueStream().map((p) -> p.get("tensor").asString())).contains("enc.0.conv.weight",
				"enc.1.conv.weight");
		assertThat(problems.toString()).contains("[16,4,3,3]");
	}

}
