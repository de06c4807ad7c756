package dev.patchbay.api;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.api.CompositionIntegrationTests.assertClose;
import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

@IntegrationTest
class DerivationIntegrationTests {

	@Autowired
	ApiClient api;

	@Test
	void aServerSideDiffMovesAFineTuneOntoANewBaseVersion() {
		String v1 = model("digits/base_v1.safetensors");
		String v2 = model("digits/base_v2.safetensors");
		String flip = model("digits/finetuned_flip_v1.safetensors");
		Response diff = this.api.postJson("/api/v1/patches/diff",
				Map.of("name", "flip-diff", "baseModelId", v1, "finetunedModelId", flip));
		assertThat(diff.code()).as(diff.json().toString()).isEqualTo(201);
		assertThat(diff.json().get("kind").asString()).isEqualTo("diff");
		assertThat(diff.json().get("lineage").valueStream().map((edge) -> edge.get("relation").asString()))
			.containsExactly("base", "finetuned");
		byte[] merged = weightsOf(compose(v2, diff.json().get("id").asString(), 1.0));
		Map<String, float[]> base = Fixtures.floats(Fixtures.path("digits/base_v1.safetensors"));
		Map<String, float[]> tuned = Fixtures.floats(Fixtures.path("digits/finetuned_flip_v1.safetensors"));
		Map<String, float[]> expected = new LinkedHashMap<>(
				Fixtures.floats(Fixtures.path("digits/base_v2.safetensors")));
		expected.forEach((name, values) -> {
			for (int i = 0; i < values.length; i++) {
				values[i] = values[i] + tuned.get(name)[i] - base.get(name)[i];
			}
		});
		assertClose(Fixtures.floats(merged), expected, 1e-6f);
	}

	@Test
	void aFourBitPerChannelSignatureIsSixTimesSmallerAndDecodesWithinHalfAStep() {
		String clean = model("digits/base_v1.safetensors");
		String robust = model("digits/robust_noise_v1.safetensors");
		Response rws = this.api.postJson("/api/v1/patches/rws",
				Map.of("name", "noise-rws-4bit", "cleanModelId", clean, "robustModelId", robust, "include",
						List.of("conv1", "conv2"), "quantization", Map.of("bits", 4, "granularity", "channel")));
		assertThat(rws.code()).as(rws.json().toString()).isEqualTo(201);
		JsonNode compression = rws.json().get("config").get("compression");
		long covered = (16 * 9 + 16 + 32 * 16 * 9 + 32) * 4;
		assertThat(compression.get("float32Bytes").asLong()).isEqualTo(covered);
		assertThat(rws.json().get("sizeBytes").asLong()).isEqualTo(compression.get("patchBytes").asLong());
		assertThat((double) covered / rws.json().get("sizeBytes").asLong()).isGreaterThanOrEqualTo(6.0);
		Map<String, float[]> merged = Fixtures.floats(weightsOf(compose(clean, rws.json().get("id").asString(), 1.0)));
		Map<String, float[]> exact = Fixtures.floats(Fixtures.path("digits/robust_noise_v1.safetensors"));
		Map<String, float[]> original = Fixtures.floats(Fixtures.path("digits/base_v1.safetensors"));
		for (String name : List.of("conv1.weight", "conv2.weight")) {
			float[] want = exact.get(name);
			float[] got = merged.get(name);
			int channels = (int) (name.startsWith("conv1") ? 16 : 32);
			int perChannel = want.length / channels;
			for (int c = 0; c < channels; c++) {
				float min = Float.MAX_VALUE;
				float max = -Float.MAX_VALUE;
				for (int i = c * perChannel; i < (c + 1) * perChannel; i++) {
					float v = exact.get(name)[i] - original.get(name)[i];
					min = Math.min(min, v);
					max = Math.max(max, v);
				}
				float halfStep = (max - min) / 15 / 2;
				for (int i = c * perChannel; i < (c + 1) * perChannel; i++) {
					assertThat(Math.abs(got[i] - want[i])).as("%s[%d]", name, i)
						.isLessThanOrEqualTo(halfStep * 1.01f + 1e-4f);
				}
			}
		}
		assertThat(merged.get("fc1.weight")).isEqualTo(original.get("fc1.weight"));
	}

	@Test
	void anUnquantizedSignatureWithoutPretrainedIsRobustMinusCleanApplied() {
		String clean = model("digits/base_v1.safetensors");
		String robust = model("digits/robust_blur_v1.safetensors");
		Response rws = this.api.postJson("/api/v1/patches/rws", Map.of("name", "blur-rws", "cleanModelId", clean,
				"robustModelId", robust, "include", List.of("^conv")));
		assertThat(rws.code()).as(rws.json().toString()).isEqualTo(201);
		Map<String, float[]> merged = Fixtures.floats(weightsOf(compose(clean, rws.json().get("id").asString(), 1.0)));
		Map<String, float[]> exact = Fixtures.floats(Fixtures.path("digits/robust_blur_v1.safetensors"));
		assertClose(Map.of("conv2.weight", merged.get("conv2.weight")),
				Map.of("conv2.weight", exact.get("conv2.weight")), 1e-6f);
	}

	@Test
	void aSignatureWithPretrainedKeepsOnlyWhatIsOrthogonalToTheCleanFineTune() {
		long[] shape = { 2 };
		String pretrained = upload("pretrained", Fixtures.f32(Map.of("w", shape), Map.of("w", new float[] { 0, 0 })));
		String clean = upload("clean", Fixtures.f32(Map.of("w", shape), Map.of("w", new float[] { 2, 0 })));
		String robust = upload("robust", Fixtures.f32(Map.of("w", shape), Map.of("w", new float[] { 3, 5 })));
		Response rws = this.api.postJson("/api/v1/patches/rws", Map.of("name", "projected", "cleanModelId", clean,
				"robustModelId", robust, "pretrainedModelId", pretrained, "include", List.of("w")));
		assertThat(rws.code()).as(rws.json().toString()).isEqualTo(201);
		float[] v = Fixtures.floats(weightsOf(compose(pretrained, rws.json().get("id").asString(), 2.0))).get("w");
		// d = (3, 5), a = (2, 0): v = d − (6/4)·a = (0, 5); alpha 2 applies once.
		assertThat(v).containsExactly(0f, 10f);
	}

	@Test
	void derivationErrorsNameTheField() {
		String clean = model("digits/base_v1.safetensors");
		Response noInclude = this.api.postJson("/api/v1/patches/rws",
				Map.of("name", "x", "cleanModelId", clean, "robustModelId", clean));
		assertThat(noInclude.code()).isEqualTo(400);
		assertThat(noInclude.json().get("field").asString()).isEqualTo("include");
		Response badBits = this.api.postJson("/api/v1/patches/rws", Map.of("name", "x", "cleanModelId", clean,
				"robustModelId", clean, "include", List.of("conv1"), "quantization", Map.of("bits", 3)));
		assertThat(badBits.json().get("field").asString()).isEqualTo("quantization.bits");
		Response same = this.api.postJson("/api/v1/patches/diff",
				Map.of("name", "nothing", "baseModelId", clean, "finetunedModelId", clean));
		assertThat(same.code()).isEqualTo(422);
		Response unknown = this.api.postJson("/api/v1/patches/diff",
				Map.of("name", "x", "baseModelId", clean, "finetunedModelId", "00000000-0000-0000-0000-000000000000"));
		assertThat(unknown.code()).isEqualTo(404);
	}

	private String model(String fixture) {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", fixture, "version", String.valueOf(System.nanoTime()))).file("weights",
						Fixtures.path(fixture)));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private String upload(String name, byte[] file) {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", name, "version", String.valueOf(System.nanoTime()))).bytes("weights",
						name + ".safetensors", file));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private String compose(String base, String patch, double weight) {
		Response response = this.api.postJson("/api/v1/compositions",
				Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch, "weight", weight))));
		assertThat(response.code()).as(response.json().toString()).isIn(200, 201);
		return response.json().get("id").asString();
	}

	private byte[] weightsOf(String composition) {
		Response response = this.api.get("/api/v1/compositions/" + composition + "/weights");
		assertThat(response.code()).isEqualTo(200);
		return response.body();
	}

}
