package dev.patchbay.api;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * OTA's curvature upload and the parameters that are ours, over HTTP, against the
 * {@code ota} fixtures of {@code methods_seed4}: a whole-model {@code ffg_density} finds
 * the threshold the fixture set offline, rank-1 factors uploaded in place of v give
 * {@code rank1_approx}'s result, a diff patch term is its model's task vector, and bad
 * second moments are refused before anything is stored.
 */
@IntegrationTest
@TestPropertySource(properties = "patchbay.composition.shard-size=8KB")
class CurvatureMergeIntegrationTests {

	private static final String DIR = "methods_seed4/";

	private static final Duration TIMEOUT = Duration.ofSeconds(30);

	private static final List<String> EXPERTS = List.of("oA", "oB", "oC");

	@Autowired
	ApiClient api;

	@Test
	void ffgDensityFindsTheWholeModelThreshold() {
		// The fixture's thresholds keep these whole-model densities (its manifest).
		assertClose(composePerModelThresholds("density", false, Map.of("ffg_density", 0.4), Map.of("ffg_density", 0.3),
				Map.of("ffg_density", 0.5)), DIR + "cases/ota_ffg_per_model_thresh/expected.safetensors");
	}

	@Test
	void aDiffPatchTermIsItsModelsTaskVectorWithItsMoments() {
		assertClose(
				composePerModelThresholds("diff", true, Map.of("precond_threshold", 2.8203485708407856e-14),
						Map.of("precond_threshold", 2.1005484677824084e-13),
						Map.of("precond_threshold", 1.514539015594328e-13)),
				DIR + "cases/ota_ffg_per_model_thresh/expected.safetensors");
	}

	/** ota_ffg_per_model_thresh's recipe with the given per-term parameters. */
	@SafeVarargs
	private Map<String, float[]> composePerModelThresholds(String prefix, boolean firstAsDiff,
			Map<String, Object>... parameters) {
		String base = model(prefix + "-obase", "obase", null);
		List<Map<String, Object>> terms = new ArrayList<>();
		for (int i = 0; i < 3; i++) {
			String expert = EXPERTS.get(i);
			byte[] moments = bytes(DIR + "inputs/ota/exp_avg_sq_" + expert + ".safetensors");
			Map<String, Object> term = new LinkedHashMap<>();
			if (i == 0 && firstAsDiff) {
				term.put("patchId", diffPatch(prefix + "-diff-" + expert, expert, moments));
			}
			else {
				term.put("modelId", model(prefix + "-" + expert, expert, moments));
			}
			term.put("parameters", parameters[i]);
			terms.add(term);
		}
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "ota", "baseModelId", base, "parameters",
				Map.of("epsilon", 1e-26, "normalise", "none", "power", 0.5, "fallback_to_base", true, "rescale", false),
				"terms", terms);
		return compose(recipe);
	}

	@Test
	void rankOneFactorsStandInForTheFullSecondMoments() {
		String base = model("factors-obase", "obase", null);
		double[] thresholds = { 7.623568248321385e-14, 4.4524229545363127e-13, 4.008435090281622e-13 };
		List<Map<String, Object>> terms = new ArrayList<>();
		for (int i = 0; i < 3; i++) {
			String expert = EXPERTS.get(i);
			terms.add(Map.of("modelId", model("factors-" + expert, expert, rankOneFactors(expert)), "parameters",
					Map.of("precond_threshold", thresholds[i])));
		}
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "ota", "baseModelId", base, "parameters",
				Map.of("epsilon", 1e-26, "normalise", "none", "power", 0.5, "fallback_to_base", true), "terms", terms);
		assertClose(compose(recipe), DIR + "cases/ota_ffg_rank1_per_model/expected.safetensors");
	}

	@Test
	void refusesSecondMomentsThatDoNotFitTheWeightsAndKeepsNothing() {
		Map<String, float[]> values = Fixtures.floats(Fixtures.path(DIR + "inputs/ota/exp_avg_sq_oA.safetensors"));
		Map<String, long[]> shapes = new LinkedHashMap<>(
				Fixtures.shapes(Fixtures.path(DIR + "inputs/ota/exp_avg_sq_oA.safetensors")));
		shapes.put("model.layers.0.input_layernorm.weight", new long[] { 8, 8 });
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "moments-misfit"))
					.file("weights", Fixtures.path(DIR + "inputs/ota/oA.safetensors"))
					.bytes("second_moments", "moments.safetensors", Fixtures.f32(shapes, values)));
		assertThat(response.code()).isEqualTo(400);
		assertThat(response.json().get("field").asString()).isEqualTo("second_moments");
		assertThat(response.json().get("detail").asString()).contains("model.layers.0.input_layernorm.weight");
		assertThat(this.api.get("/api/v1/models?name=moments-misfit").json().get("totalItems").asLong()).isZero();
	}

	@Test
	void otaNeedsEveryTermsSecondMoments() {
		String base = model("missing-obase", "obase", null);
		String expert = model("missing-oA", "oA", null);
		Response response = this.api.postJson("/api/v1/compositions", Map.of("dialect", "mergekit", "method", "ota",
				"baseModelId", base, "terms", List.of(Map.of("modelId", expert))));
		assertThat(response.code()).isEqualTo(422);
		assertThat(response.json().toString()).contains("terms[0]").contains("second_moments");
	}

	private String model(String name, String input, byte[] moments) {
		ApiClient.Multipart upload = multipart(Map.of("name", name)).file("weights",
				Fixtures.path(DIR + "inputs/ota/" + input + ".safetensors"));
		if (moments != null) {
			upload.bytes("second_moments", "exp_avg_sq.safetensors", moments);
		}
		return this.api.upload("/api/v1/models", upload);
	}

	/** A diff patch τ = expert − base, computed here, with the expert's moments. */
	private String diffPatch(String name, String expert, byte[] moments) {
		Map<String, float[]> model = Fixtures.floats(Fixtures.path(DIR + "inputs/ota/" + expert + ".safetensors"));
		Map<String, float[]> base = Fixtures.floats(Fixtures.path(DIR + "inputs/ota/obase.safetensors"));
		Map<String, float[]> delta = new LinkedHashMap<>();
		model.forEach((tensor, values) -> {
			float[] difference = new float[values.length];
			for (int i = 0; i < values.length; i++) {
				difference[i] = values[i] - base.get(tensor)[i];
			}
			delta.put(tensor, difference);
		});
		byte[] weights = Fixtures.f32(Fixtures.shapes(Fixtures.path(DIR + "inputs/ota/" + expert + ".safetensors")),
				delta);
		return this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", name)).bytes("weights", "diff.safetensors", weights)
					.bytes("second_moments", "exp_avg_sq.safetensors", moments));
	}

	/**
	 * The expert's second moments with every matrix replaced by its row sums and column
	 * sums, summed here in double precision.
	 */
	private static byte[] rankOneFactors(String expert) {
		String file = DIR + "inputs/ota/exp_avg_sq_" + expert + ".safetensors";
		Map<String, float[]> values = Fixtures.floats(Fixtures.path(file));
		Map<String, long[]> shapes = Fixtures.shapes(Fixtures.path(file));
		Map<String, float[]> out = new LinkedHashMap<>();
		Map<String, long[]> outShapes = new LinkedHashMap<>();
		values.forEach((key, v) -> {
			String name = key.replace(".exp_avg_sq", "");
			long[] shape = shapes.get(key);
			if (shape.length != 2) {
				out.put(name, v);
				outShapes.put(name, shape);
				return;
			}
			int rows = (int) shape[0];
			int columns = (int) shape[1];
			double[] r = new double[rows];
			double[] c = new double[columns];
			for (int i = 0; i < rows; i++) {
				for (int j = 0; j < columns; j++) {
					r[i] += v[i * columns + j];
					c[j] += v[i * columns + j];
				}
			}
			out.put(name + ".exp_avg_sq_rows", floats(r));
			outShapes.put(name + ".exp_avg_sq_rows", new long[] { rows });
			out.put(name + ".exp_avg_sq_cols", floats(c));
			outShapes.put(name + ".exp_avg_sq_cols", new long[] { columns });
		});
		return Fixtures.f32(outShapes, out);
	}

	private static float[] floats(double[] values) {
		float[] out = new float[values.length];
		for (int i = 0; i < values.length; i++) {
			out[i] = (float) values[i];
		}
		return out;
	}

	private static byte[] bytes(String fixture) {
		try {
			return java.nio.file.Files.readAllBytes(Fixtures.path(fixture));
		}
		catch (java.io.IOException ex) {
			throw new java.io.UncheckedIOException(ex);
		}
	}

	private Map<String, float[]> compose(Map<String, Object> recipe) {
		Response created = this.api.postJson("/api/v1/compositions", recipe);
		assertThat(created.code()).as(created.json().toString()).isIn(200, 201);
		String id = created.json().get("id").asString();
		this.api.awaitReady(id, TIMEOUT);
		String prefix = "/api/v1/compositions/" + id;
		Map<String, float[]> weights = Fixtures.floats(this.api.get(prefix + "/weights").body());
		// At 8KB the folder of these 24KB models is sharded, and its shards hold the
		// whole
		// file's tensors: FFG's threshold over the whole model keeps ota from being
		// computed shard by shard.
		Map<String, float[]> joined = new LinkedHashMap<>();
		for (JsonNode entry : this.api.get(prefix + "/files").json()) {
			String path = entry.get("path").asString();
			if (path.matches("model-\\d{5}-of-\\d{5}\\.safetensors")) {
				joined.putAll(Fixtures.floats(this.api.get(prefix + "/files/" + path).body()));
			}
		}
		assertThat(joined.keySet()).as("the sharded folder's tensors").isEqualTo(weights.keySet());
		weights.forEach((tensor, values) -> assertThat(joined.get(tensor)).as(tensor).containsExactly(values));
		return weights;
	}

	/** Within the fixture's tolerance, 1e-5 absolute plus 1e-5 relative. */
	private static void assertClose(Map<String, float[]> actual, String expectedFile) {
		Map<String, float[]> expected = Fixtures.floats(Fixtures.path(expectedFile));
		assertThat(actual.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
		expected.forEach((name, values) -> {
			float[] got = actual.get(name);
			for (int i = 0; i < values.length; i++) {
				assertThat((double) got[i]).as("%s[%d]", name, i)
					.isCloseTo(values[i], within(1e-5 + 1e-5 * Math.abs(values[i])));
			}
		});
	}

}
