package dev.patchbay.api;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import javax.imageio.ImageIO;
import javax.xml.parsers.DocumentBuilderFactory;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.NodeList;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.simple.JdbcClient;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * Strength sweeps over HTTP on the digits fixtures: the Robust Weight Signature of noise
 * (robust_noise_v1 − base_v1, every tensor) scaled by α on base_v1 reproduces the α rows
 * of the fixtures' accuracy table, with its CSV and charts.
 */
@IntegrationTest
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SweepIntegrationTests {

	private static final Map<String, Object> SIGNATURE = Map.of("inputs",
			List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))), "outputs",
			List.of(Map.of("name", "logits", "datatype", "FP32", "shape", List.of(-1, 10))));

	private static final List<String> SPLITS = List.of("clean", "noise", "blur", "flip");

	private static final List<String> INPUTS = SPLITS.stream().map((split) -> "images_" + split).toList();

	private static final List<Double> ALPHAS = List.of(0.5, 1.0, 1.5);

	@Autowired
	ApiClient api;

	@Autowired
	JdbcClient jdbc;

	private String base;

	private String signature;

	private String dataset;

	private JsonNode reference;

	@BeforeAll
	void registerDigits() throws IOException {
		this.base = model("base_v1");
		String robust = model("robust_noise_v1");
		Response rws = this.api.postJson("/api/v1/patches/rws", Map.of("name", "sweep-rws-noise", "cleanModelId",
				this.base, "robustModelId", robust, "include", List.of(".*")));
		assertThat(rws.code()).as(rws.json().toString()).isEqualTo(201);
		this.signature = rws.json().get("id").asString();
		Response data = this.api.postMultipart("/api/v1/datasets", multipart(Map.of("name", "digits-test-for-sweeps"))
			.file("data", Fixtures.path("digits/testset.safetensors")));
		assertThat(data.code()).as(data.json().toString()).isEqualTo(201);
		this.dataset = data.json().get("id").asString();
		this.reference = JsonMapper.builder()
			.build()
			.readTree(Files.readString(Fixtures.path("digits/manifest.json")))
			.get("accuracy");
	}

	private String model(String name) {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "sweep-" + name, "family", "smallcnn", "signature", SIGNATURE))
					.file("weights", Fixtures.path("digits/" + name + ".safetensors"))
					.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	private Map<String, Object> sweep(List<Double> weights, Map<String, Object> extra) {
		Map<String, Object> request = new LinkedHashMap<>(Map.of("baseModelId", this.base, "terms",
				List.of(Map.of("patchId", this.signature, "weights", weights)), "datasetId", this.dataset, "inputs",
				INPUTS, "labels", "labels"));
		request.putAll(extra);
		return request;
	}

	private JsonNode awaitDone(String id) {
		JsonNode sweep = await("sweep " + id + " finished").atMost(Duration.ofSeconds(120))
			.pollInterval(Duration.ofMillis(100))
			.until(() -> this.api.get("/api/v1/sweeps/" + id).json(),
					(current) -> !current.get("status").asString().matches("queued|running"));
		assertThat(sweep.get("status").asString()).as(sweep.toString()).isEqualTo("done");
		return sweep;
	}

	/**
	 * The model, patch and dataset may be named as compositions name them; the stored
	 * sweep shows the ids they resolved to, so moving a name later does not change what
	 * it says ran.
	 */
	@Test
	void aSweepTakesReferencesAndStoresTheIdsTheyResolvedTo() {
		Map<String, Object> request = new LinkedHashMap<>(sweep(List.of(1.0), Map.of()));
		request.put("baseModelId", "sweep-base_v1@latest");
		request.put("terms", List.of(Map.of("patchId", "sweep-rws-noise", "weights", List.of(1.0))));
		request.put("datasetId", "digits-test-for-sweeps@1");
		Response created = this.api.postJson("/api/v1/sweeps", request);
		assertThat(created.code()).as(created.json().toString()).isEqualTo(202);
		JsonNode stored = awaitDone(created.json().get("id").asString()).get("request");
		assertThat(stored.get("baseModelId").asString()).isEqualTo(this.base);
		assertThat(stored.get("terms").get(0).get("patchId").asString()).isEqualTo(this.signature);
		assertThat(stored.get("datasetId").asString()).isEqualTo(this.dataset);

		request.put("datasetId", "no-such-dataset");
		Response unknown = this.api.postJson("/api/v1/sweeps", request);
		assertThat(unknown.code()).as(unknown.json().toString()).isEqualTo(404);
		assertThat(unknown.json().get("field").asString()).isEqualTo("datasetId");
	}

	/**
	 * A replica killed in the middle of a sweep leaves it running with a lease nobody
	 * renews: another replica takes it over from the first grid point without a result.
	 * The dead replica is the row it would leave (its request as stored, one result, a
	 * heartbeat an hour old); the sentinel result shows the kept point is not run again.
	 */
	@Test
	void aSweepWhoseReplicaIsGoneIsTakenOverFromItsFirstMissingPoint() {
		Response finished = this.api.postJson("/api/v1/sweeps", sweep(List.of(0.5), Map.of()));
		assertThat(finished.code()).as(finished.json().toString()).isEqualTo(202);
		String template = finished.json().get("id").asString();
		awaitDone(template);
		UUID orphan = UUID.randomUUID();
		this.jdbc.sql("""
				insert into sweep (id, status, request, points_done, points_total, created_at, claimed_by, heartbeat_at)
				select :orphan, 'running', replace(request, '[0.5]', '[0.5,1.0,1.5]'), 1, 3,
				       now() - interval '1 hour', 'gone@nowhere/dead', now() - interval '1 hour'
				from sweep where id = :template""")
			.param("orphan", orphan)
			.param("template", UUID.fromString(template))
			.update();
		Map<String, Double> sentinel = new LinkedHashMap<>();
		INPUTS.forEach((input) -> sentinel.put(input, 0.25));
		this.jdbc.sql("insert into sweep_result (sweep_id, ordinal, weights, accuracy) values (:id, 0, '[0.5]', :acc)")
			.param("id", orphan)
			.param("acc", JsonMapper.builder().build().writeValueAsString(sentinel))
			.update();

		JsonNode sweep = awaitDone(orphan.toString());
		JsonNode results = sweep.get("results");
		assertThat(results).hasSize(3);
		assertThat(results.get(0).get("accuracy").get("images_clean").asDouble()).isEqualTo(0.25);
		for (int i = 1; i < ALPHAS.size(); i++) {
			JsonNode row = this.reference.get("v1+rws_noise_full_a" + ALPHAS.get(i));
			for (String split : SPLITS) {
				assertThat(results.get(i).get("accuracy").get("images_" + split).asDouble())
					.as("α = %s on %s", ALPHAS.get(i), split)
					.isCloseTo(row.get(split).asDouble(), within(0.002));
			}
		}
	}

	@Test
	void aSweepOfTheNoiseSignatureReproducesTheAlphaRowsWithoutRegisteringAnything() throws Exception {
		long models = this.api.get("/api/v1/models").json().get("totalItems").asLong();
		long compositions = this.api.get("/api/v1/compositions").json().get("totalItems").asLong();
		Response created = this.api.postJson("/api/v1/sweeps", sweep(ALPHAS, Map.of()));
		assertThat(created.code()).as(created.json().toString()).isEqualTo(202);
		assertThat(created.header("Retry-After")).isNotEmpty();
		String id = created.json().get("id").asString();
		assertThat(created.header("Location")).singleElement().asString().endsWith("/api/v1/sweeps/" + id);
		assertThat(created.json().get("progress").get("pointsTotal").asInt()).isEqualTo(3);

		JsonNode sweep = awaitDone(id);
		assertThat(sweep.get("progress").get("pointsDone").asInt()).isEqualTo(3);
		JsonNode results = sweep.get("results");
		assertThat(results).hasSize(3);
		System.out.println("Sweep of rws_noise on base_v1 measured through the HTTP API:\n" + results);
		double bestMean = Double.NEGATIVE_INFINITY;
		double bestAlpha = Double.NaN;
		for (int i = 0; i < ALPHAS.size(); i++) {
			double alpha = ALPHAS.get(i);
			JsonNode row = this.reference.get("v1+rws_noise_full_a" + alpha);
			JsonNode result = results.get(i);
			assertThat(result.get("weights").get(0).asDouble()).isEqualTo(alpha);
			double mean = 0;
			for (String split : SPLITS) {
				assertThat(result.get("accuracy").get("images_" + split).asDouble()).as("α = %s on %s", alpha, split)
					.isCloseTo(row.get(split).asDouble(), within(0.002));
				mean += row.get(split).asDouble() / SPLITS.size();
			}
			if (mean > bestMean) {
				bestMean = mean;
				bestAlpha = alpha;
			}
		}
		assertThat(sweep.get("request").get("objective").get("maximize").asString()).isEqualTo("mean");
		assertThat(sweep.get("best").get("weights").get(0).asDouble()).isEqualTo(bestAlpha);
		assertThat(sweep.get("best").get("score").asDouble()).isCloseTo(bestMean, within(0.002));
		// Composed in memory: no model or composition is registered per grid point.
		assertThat(this.api.get("/api/v1/models").json().get("totalItems").asLong()).isEqualTo(models);
		assertThat(this.api.get("/api/v1/compositions").json().get("totalItems").asLong()).isEqualTo(compositions);

		Response csv = this.api.get("/api/v1/sweeps/" + id + "/results.csv");
		assertThat(csv.code()).isEqualTo(200);
		assertThat(csv.contentType()).startsWith("text/csv");
		List<String> lines = new String(csv.body(), StandardCharsets.UTF_8).lines().toList();
		assertThat(lines.get(0)).isEqualTo("weight_0," + String.join(",", INPUTS));
		assertThat(lines).hasSize(4);
		for (int i = 0; i < ALPHAS.size(); i++) {
			String[] cells = lines.get(i + 1).split(",");
			assertThat(Double.parseDouble(cells[0])).isEqualTo(ALPHAS.get(i));
			for (int s = 0; s < SPLITS.size(); s++) {
				assertThat(Double.parseDouble(cells[s + 1])).isCloseTo(
						this.reference.get("v1+rws_noise_full_a" + ALPHAS.get(i)).get(SPLITS.get(s)).asDouble(),
						within(0.002));
			}
		}

		Response svg = this.api.get("/api/v1/sweeps/" + id + "/chart.svg");
		assertThat(svg.code()).isEqualTo(200);
		assertThat(svg.contentType()).startsWith("image/svg+xml");
		DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
		factory.setNamespaceAware(true);
		Document document = factory.newDocumentBuilder().parse(new ByteArrayInputStream(svg.body()));
		assertThat(document.getDocumentElement().getLocalName()).isEqualTo("svg");
		NodeList groups = document.getElementsByTagNameNS("http://www.w3.org/2000/svg", "g");
		Set<String> splits = new HashSet<>();
		List<Integer> pointsPerSeries = new ArrayList<>();
		for (int i = 0; i < groups.getLength(); i++) {
			Element group = (Element) groups.item(i);
			if (group.getAttribute("class").equals("series")) {
				splits.add(group.getAttribute("data-split"));
				Element polyline = (Element) group.getElementsByTagNameNS("http://www.w3.org/2000/svg", "polyline")
					.item(0);
				pointsPerSeries.add(polyline.getAttribute("points").trim().split("\\s+").length);
			}
		}
		assertThat(pointsPerSeries).as("one series per split").hasSize(SPLITS.size()).containsOnly(ALPHAS.size());
		assertThat(splits).containsExactlyInAnyOrderElementsOf(INPUTS);

		Response png = this.api.get("/api/v1/sweeps/" + id + "/chart.png");
		assertThat(png.code()).isEqualTo(200);
		assertThat(png.contentType()).isEqualTo("image/png");
		var image = ImageIO.read(new ByteArrayInputStream(png.body()));
		assertThat(image).as("the PNG decodes").isNotNull();
		assertThat(image.getWidth()).isGreaterThan(100);

		JsonNode listed = this.api.get("/api/v1/sweeps?status=done").json();
		assertThat(listed.get("items").valueStream().map((item) -> item.get("id").asString())).contains(id);
	}

	@Test
	void theBestCombinationFollowsTheObjective() throws Exception {
		Response created = this.api.postJson("/api/v1/sweeps",
				sweep(ALPHAS, Map.of("objective", Map.of("maximize", "images_noise"))));
		assertThat(created.code()).as(created.json().toString()).isEqualTo(202);
		JsonNode sweep = awaitDone(created.json().get("id").asString());
		// From the fixture table: noise accuracy peaks at α = 1.0 (0.7152).
		assertThat(sweep.get("best").get("weights").get(0).asDouble()).isEqualTo(1.0);
		assertThat(sweep.get("best").get("score").asDouble())
			.isCloseTo(this.reference.get("v1+rws_noise_full_a1.0").get("noise").asDouble(), within(0.002));
	}

	@Test
	void twoTermsOfOneSignatureAddTheirWeightsAndTheGridVariesTheLastTermFastest() throws Exception {
		Map<String, Object> request = sweep(ALPHAS, Map.of("objective", Map.of("maximize", "min")));
		request.put("terms", List.of(Map.of("patchId", this.signature, "weights", List.of(0.5)),
				Map.of("patchId", this.signature, "weights", List.of(0.5, 1.0))));
		Response created = this.api.postJson("/api/v1/sweeps", request);
		assertThat(created.code()).as(created.json().toString()).isEqualTo(202);
		JsonNode results = awaitDone(created.json().get("id").asString()).get("results");
		assertThat(results).hasSize(2);
		// 0.5·v + 0.5·v is α = 1.0, and 0.5·v + 1.0·v is α = 1.5.
		for (int i = 0; i < 2; i++) {
			assertThat(results.get(i).get("weights").get(1).asDouble()).isEqualTo(List.of(0.5, 1.0).get(i));
			JsonNode row = this.reference.get("v1+rws_noise_full_a" + List.of(1.0, 1.5).get(i));
			for (String split : SPLITS) {
				assertThat(results.get(i).get("accuracy").get("images_" + split).asDouble())
					.isCloseTo(row.get(split).asDouble(), within(0.002));
			}
		}
	}

	@Test
	void invalidSweepsAreRefusedNamingTheFieldAndLeaveNoTrace() {
		long before = this.api.get("/api/v1/sweeps").json().get("totalItems").asLong();
		List<Double> seventeen = new ArrayList<>();
		for (int i = 0; i < 17; i++) {
			seventeen.add(i / 16.0);
		}
		Response tooLarge = this.api.postJson("/api/v1/sweeps",
				Map.of("baseModelId", this.base, "terms",
						List.of(Map.of("patchId", this.signature, "weights", seventeen),
								Map.of("patchId", this.signature, "weights", seventeen)),
						"datasetId", this.dataset, "inputs", INPUTS, "labels", "labels"));
		assertThat(tooLarge.code()).as(tooLarge.json().toString()).isEqualTo(422);
		assertThat(tooLarge.json().get("limit").asInt()).isEqualTo(256);
		assertThat(tooLarge.json().get("points").asInt()).isEqualTo(289);
		assertThat(tooLarge.json().get("detail").asString()).contains("patchbay.inference.max-sweep-points");

		Response unknown = this.api.postJson("/api/v1/sweeps", sweep(ALPHAS, Map.of("wieghts", List.of(1.0))));
		assertThat(unknown.code()).isEqualTo(400);
		assertThat(unknown.json().toString()).contains("wieghts");

		Response noWeights = this.api.postJson("/api/v1/sweeps", sweep(List.of(), Map.of()));
		assertThat(noWeights.code()).isEqualTo(400);
		assertThat(noWeights.json().get("field").asString()).isEqualTo("terms[0].weights");

		Map<String, Object> nullTerm = sweep(ALPHAS, Map.of());
		nullTerm.put("terms", Arrays.asList((Object) null));
		Response noTerm = this.api.postJson("/api/v1/sweeps", nullTerm);
		assertThat(noTerm.code()).as(noTerm.json().toString()).isEqualTo(400);
		assertThat(noTerm.json().get("field").asString()).isEqualTo("terms[0].patchId");

		Response objective = this.api.postJson("/api/v1/sweeps",
				sweep(ALPHAS, Map.of("objective", Map.of("maximize", "images_rain"))));
		assertThat(objective.code()).isEqualTo(400);
		assertThat(objective.json().get("field").asString()).isEqualTo("objective.maximize");

		Map<String, Object> missingSplit = sweep(ALPHAS, Map.of());
		missingSplit.put("inputs", List.of("images_clean", "images_rain"));
		Response split = this.api.postJson("/api/v1/sweeps", missingSplit);
		assertThat(split.code()).isEqualTo(400);
		assertThat(split.json().get("field").asString()).isEqualTo("inputs[1]");

		Map<String, Object> unknownPatch = sweep(ALPHAS, Map.of());
		unknownPatch.put("terms", List.of(Map.of("patchId", this.dataset, "weights", ALPHAS)));
		assertThat(this.api.postJson("/api/v1/sweeps", unknownPatch).code()).isEqualTo(404);
		assertThat(this.api.get("/api/v1/sweeps/" + this.dataset).code()).isEqualTo(404);

		String graphless = this.api.upload("/api/v1/models", multipart(Map.of("name", "sweep-base-without-graph"))
			.file("weights", Fixtures.path("digits/base_v1.safetensors")));
		Map<String, Object> noGraph = sweep(ALPHAS, Map.of());
		noGraph.put("baseModelId", graphless);
		Response refused = this.api.postJson("/api/v1/sweeps", noGraph);
		assertThat(refused.code()).as(refused.json().toString()).isEqualTo(422);
		assertThat(refused.json().get("field").asString()).isEqualTo("baseModelId");

		assertThat(this.api.get("/api/v1/sweeps").json().get("totalItems").asLong()).isEqualTo(before);
	}

}
