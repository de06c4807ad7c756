package dev.patchbay.api;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
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
 * Every mergekit-family case of {@code methods_seed4/manifest.json}, driven through HTTP:
 * its input models uploaded, its mergekit config translated to a mergekit-dialect recipe,
 * the result downloaded and compared.
 */
@IntegrationTest
class MergekitMethodsIntegrationTests {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final Duration TIMEOUT = Duration.ofSeconds(20);

	/**
	 * Cases recording an anchor bug whose output we refuse to reproduce: refused with a
	 * 422 naming the parameter (README, "Where we differ from mergekit").
	 */
	private static final Set<String> REFUSED_ANCHOR_BUGS = Set.of("sce_topk_zero_shape_bug");

	/** Cases left out: none, every mergekit-family case runs. */
	private static final Set<String> UNSUPPORTED_CASES = Set.of();

	@Autowired
	ApiClient api;

	static Stream<String> cases() {
		return manifestCases().stream()
			.filter((c) -> c.has("mergekit_config"))
			.map((c) -> c.get("id").asString())
			.filter((id) -> !UNSUPPORTED_CASES.contains(id));
	}

	private static List<JsonNode> manifestCases() {
		try {
			JsonNode manifest = JSON.readTree(Files.readString(Fixtures.path("methods_seed4/manifest.json")));
			List<JsonNode> cases = new ArrayList<>();
			manifest.get("cases").forEach(cases::add);
			return cases;
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	@ParameterizedTest
	@MethodSource("cases")
	void composesLikeMergekit(String id) {
		JsonNode c = manifestCases().stream()
			.filter((node) -> node.get("id").asString().equals(id))
			.findFirst()
			.orElseThrow();
		JsonNode config = c.get("mergekit_config");
		// OTA's preconditioner_path names each expert's second moments: here they are
		// uploaded with the expert as its second_moments part, never named by path.
		Map<String, String> moments = new LinkedHashMap<>();
		config.get("models").forEach((model) -> {
			JsonNode path = model.path("parameters").get("preconditioner_path");
			if (path != null) {
				moments.put(model.get("model").asString(), path.asString());
			}
		});
		Map<String, String> models = new LinkedHashMap<>();
		c.get("inputs").properties().forEach((input) -> {
			if (input.getKey().startsWith("exp_avg_sq")) {
				return;
			}
			ApiClient.Multipart upload = multipart(Map.of("name", id + "-" + input.getKey())).file("weights",
					Fixtures.path("methods_seed4/" + input.getValue().asString()));
			if (moments.containsKey(input.getKey())) {
				upload.file("second_moments", Fixtures.path("methods_seed4/" + moments.get(input.getKey())));
			}
			models.put(input.getKey(), this.api.upload("/api/v1/models", upload));
		});
		Map<String, Object> recipe = new LinkedHashMap<>();
		recipe.put("dialect", "mergekit");
		recipe.put("method", config.get("merge_method").asString());
		if (config.has("base_model")) {
			recipe.put("baseModelId", models.get(config.get("base_model").asString()));
		}
		List<Map<String, Object>> terms = new ArrayList<>();
		config.get("models").forEach((model) -> {
			if (model.get("model").equals(config.get("base_model"))) {
				// ffg's configs list the base among the models; a recipe names it once.
				return;
			}
			Map<String, Object> term = new LinkedHashMap<>();
			term.put("modelId", models.get(model.get("model").asString()));
			if (model.has("parameters")) {
				Map<String, JsonNode> parameters = new LinkedHashMap<>();
				model.get("parameters").properties().forEach((p) -> parameters.put(p.getKey(), p.getValue()));
				parameters.remove("preconditioner_path");
				term.put("parameters", parameters);
			}
			terms.add(term);
		});
		recipe.put("terms", terms);
		if (config.has("parameters")) {
			recipe.put("parameters", config.get("parameters"));
		}
		if (config.has("dtype")) {
			// mergekit's dtype: the inputs are rounded to it before the method runs.
			recipe.put("computeDtype",
					Map.of("bfloat16", "BF16", "float16", "F16", "float32", "F32").get(config.get("dtype").asString()));
			// Compared as the dtype mergekit wrote (arcee_fusion: F32 whatever the dtype,
			// its #604).
			if (c.path("expected_dtype").asString("").equals("float32")) {
				recipe.put("outputDtype", "F32");
			}
		}
		Response created = this.api.postJson("/api/v1/compositions", recipe);
		if (c.has("expected_error") || c.has("expected_nonfinite_elements") || REFUSED_ANCHOR_BUGS.contains(id)) {
			assertRefused(created);
			return;
		}
		assertThat(created.code()).as(created.json().toString()).isIn(200, 201);
		String composition = created.json().get("id").asString();
		this.api.awaitReady(composition, TIMEOUT);
		byte[] weights = this.api.get("/api/v1/compositions/" + composition + "/weights").body();
		Map<String, float[]> actual = Fixtures.floats(weights);
		if (c.get("random").asBoolean()) {
			assertStatistics(c, actual, Fixtures.floats(Fixtures.path("methods_seed4/inputs/base.safetensors")));
		}
		else if (c.get("tolerance").has("atol")) {
			// Where the anchor has a bug we do not reproduce, the fixture's intended
			// output.
			String expected = c.has("expected_intended") ? c.get("expected_intended").asString()
					: c.get("expected").asString();
			assertClose(actual, Fixtures.floats(Fixtures.path("methods_seed4/" + expected)),
					c.get("tolerance").get("atol").asDouble(), c.get("tolerance").get("rtol").asDouble());
		}
		else {
			// The anchor's output is arbitrary here (METHODS.md §1.4): ours must be
			// finite.
			actual.values().forEach((values) -> {
				for (float value : values) {
					assertThat(Float.isFinite(value)).isTrue();
				}
			});
		}
	}

	/**
	 * {@code rescale} restores a magnitude-pruned task vector's L1 mass, as mergekit's
	 * {@code rescaled_masked_tensor} does for every sparsifier (METHODS.md §1.6).
	 */
	@org.junit.jupiter.api.Test
	void magnitudePrunedTermsHonourRescale() {
		String model = this.api.upload("/api/v1/models", multipart(Map.of("name", "rescale-A")).file("weights",
				Fixtures.path("methods_seed4/inputs/A.safetensors")));
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "rescale-base")).file("weights",
				Fixtures.path("methods_seed4/inputs/base.safetensors")));
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "ties", "baseModelId", base, "parameters",
				Map.of("rescale", true), "terms",
				List.of(Map.of("modelId", model, "parameters", Map.of("weight", 0.7, "density", 0.5))));
		Response created = this.api.postJson("/api/v1/compositions", recipe);
		assertThat(created.code()).as(created.json().toString()).isIn(200, 201);
		String composition = created.json().get("id").asString();
		this.api.awaitReady(composition, TIMEOUT);
		Map<String, float[]> out = Fixtures
			.floats(this.api.get("/api/v1/compositions/" + composition + "/weights").body());
		Map<String, float[]> a = Fixtures.floats(Fixtures.path("methods_seed4/inputs/A.safetensors"));
		Map<String, float[]> b = Fixtures.floats(Fixtures.path("methods_seed4/inputs/base.safetensors"));
		out.forEach((name, values) -> {
			double kept = 0;
			double whole = 0;
			int changed = 0;
			for (int i = 0; i < values.length; i++) {
				// One term under normalize: the weight cancels, out − b = τ'.
				kept += Math.abs(values[i] - b.get(name)[i]);
				whole += Math.abs(a.get(name)[i] - b.get(name)[i]);
				changed += (values[i] != b.get(name)[i]) ? 1 : 0;
			}
			assertThat(kept).as(name).isCloseTo(whole, org.assertj.core.api.Assertions.within(1e-4 * whole));
			assertThat(changed).as(name).isEqualTo(values.length / 2);
		});
	}

	/** Refused with a 4xx at once, or by a failed composition, naming the parameter. */
	private void assertRefused(Response created) {
		if (created.code() >= 400) {
			assertThat(created.code()).isBetween(400, 499);
			assertThat(created.json().get("detail").asString())
				.containsPattern("weight|terms|epsilon|density|select_topk|normalise");
			return;
		}
		String composition = created.json().get("id").asString();
		long deadline = System.nanoTime() + TIMEOUT.toNanos();
		JsonNode view = this.api.get("/api/v1/compositions/" + composition).json();
		while (view.get("status").asString().matches("pending|running") && System.nanoTime() < deadline) {
			view = this.api.get("/api/v1/compositions/" + composition).json();
		}
		assertThat(view.get("status").asString()).isEqualTo("failed");
		assertThat(view.get("error").toString()).containsPattern("weight|terms|epsilon|density|select_topk|normalise");
		assertThat(this.api.get("/api/v1/compositions/" + composition + "/weights").code()).isBetween(400, 499);
	}

	private static void assertClose(Map<String, float[]> actual, Map<String, float[]> expected, double atol,
			double rtol) {
		assertThat(actual.keySet()).containsExactlyInAnyOrderElementsOf(expected.keySet());
		expected.forEach((name, values) -> {
			float[] got = actual.get(name);
			assertThat(got).as(name).hasSameSizeAs(values);
			for (int i = 0; i < values.length; i++) {
				double tolerance = atol + rtol * Math.abs(values[i]);
				assertThat((double) got[i]).as("%s[%d]", name, i)
					.isCloseTo(values[i], org.assertj.core.api.Assertions.within(tolerance));
			}
		});
	}

	/**
	 * The anchor's statistics over 200 seeded runs, met within 6 standard deviations
	 * (with a float32 summation floor of 1e-5 relative, for the L1 masses that L1
	 * rescaling pins to within 1e-7).
	 */
	private static void assertStatistics(JsonNode c, Map<String, float[]> actual, Map<String, float[]> base) {
		c.get("mask_independent_checks").get("statistics_over_anchor_seeds").properties().forEach((entry) -> {
			String name = entry.getKey();
			float[] out = actual.get(name);
			float[] b = base.get(name);
			double changed = 0;
			double l1 = 0;
			double l2 = 0;
			double sum = 0;
			for (int i = 0; i < out.length; i++) {
				double d = out[i] - b[i];
				changed += (d != 0) ? 1 : 0;
				l1 += Math.abs(d);
				l2 += d * d;
				sum += d;
			}
			Map<String, Double> ours = Map.of("changed_fraction", changed / out.length, "l1_delta", l1, "l2_delta",
					Math.sqrt(l2), "mean_delta", sum / out.length);
			ours.forEach((statistic, value) -> {
				JsonNode expected = entry.getValue().get(statistic);
				if (expected == null) {
					return;
				}
				double mean = expected.get("mean").asDouble();
				double allowed = Math.max(6 * expected.get("std").asDouble(), 1e-5 * Math.abs(mean) + 1e-9);
				assertThat(value).as("%s %s", name, statistic)
					.isCloseTo(mean, org.assertj.core.api.Assertions.within(allowed));
			});
		});
	}

}
