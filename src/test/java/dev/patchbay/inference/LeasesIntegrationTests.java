package dev.patchbay.inference;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Leases on sweeps and evaluations between replicas: a replica that lost a lease stops
 * writing, a take-over that throws lets the row lapse again, and a shutdown hands its
 * work back. A lease of 3 s (renewed every second) keeps the waits short; the context is
 * this class's alone, and closed after it.
 */
@IntegrationTest
@TestPropertySource(properties = "patchbay.inference.lease-timeout=3s")
@DirtiesContext
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class LeasesIntegrationTests {

	private static final Map<String, Object> SIGNATURE = Map.of("inputs",
			List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))), "outputs",
			List.of(Map.of("name", "logits", "datatype", "FP32", "shape", List.of(-1, 10))));

	private static final List<String> INPUTS = List.of("images_clean", "images_noise", "images_blur", "images_flip");

	private static final String OTHER_REPLICA = "other@replica/x";

	@Autowired
	ApiClient api;

	@Autowired
	JdbcClient jdbc;

	@Autowired
	Leases leases;

	@Autowired
	Sweeps sweeps;

	@Autowired
	Evaluations evaluations;

	@Autowired
	InferenceProperties properties;

	private String base;

	private String signature;

	private String dataset;

	@BeforeAll
	void registerDigits() {
		this.base = model("base_v1");
		String robust = model("robust_noise_v1");
		Response rws = this.api.postJson("/api/v1/patches/rws", Map.of("name", "leases-rws-noise", "cleanModelId",
				this.base, "robustModelId", robust, "include", List.of(".*")));
		assertThat(rws.code()).as(rws.json().toString()).isEqualTo(201);
		this.signature = rws.json().get("id").asString();
		Response data = this.api.postMultipart("/api/v1/datasets",
				multipart(Map.of("name", "leases-digits")).file("data", Fixtures.path("digits/testset.safetensors")));
		assertThat(data.code()).as(data.json().toString()).isEqualTo(201);
		this.dataset = data.json().get("id").asString();
	}

	private String model(String name) {
		Response response = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "leases-" + name, "family", "smallcnn", "signature", SIGNATURE))
					.file("weights", Fixtures.path("digits/" + name + ".safetensors"))
					.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	/** Posts a sweep of the signature at {@code points} weights; returns its id. */
	private UUID sweep(int points) {
		List<Double> weights = new ArrayList<>();
		for (int i = 0; i < points; i++) {
			weights.add(i / 100.0);
		}
		Map<String, Object> request = new LinkedHashMap<>();
		request.put("baseModelId", this.base);
		request.put("terms", List.of(Map.of("patchId", this.signature, "weights", weights)));
		request.put("datasetId", this.dataset);
		request.put("inputs", INPUTS);
		request.put("labels", "labels");
		Response created = this.api.postJson("/api/v1/sweeps", request);
		assertThat(created.code()).as(created.json().toString()).isEqualTo(202);
		return UUID.fromString(created.json().get("id").asString());
	}

	/** Posts an asynchronous evaluation of the base in batches of this size. */
	private UUID evaluation(int batchSize) {
		Response created = this.api.postJson("/api/v1/evaluations", Map.of("modelId", this.base, "datasetId",
				this.dataset, "inputs", "images_clean", "labels", "labels", "batchSize", batchSize, "async", true));
		assertThat(created.code()).as(created.json().toString()).isEqualTo(202);
		return UUID.fromString(created.json().get("id").asString());
	}

	private Map<String, Object> row(String table, UUID id) {
		return this.jdbc
			.sql("select status, claimed_by, heartbeat_at::text as heartbeat, error from " + table + " where id = :id")
			.param("id", id)
			.query()
			.singleRow();
	}

	private int done(String table, UUID id) {
		String column = table.equals(Leases.SWEEP) ? "points_done" : "examples_done";
		return this.jdbc.sql("select " + column + " from " + table + " where id = :id")
			.param("id", id)
			.query(Integer.class)
			.single();
	}

	private void awaitProgress(String table, UUID id) {
		await(table + " " + id + " under way").atMost(Duration.ofSeconds(60))
			.pollInterval(Duration.ofMillis(10))
			.until(() -> done(table, id) >= 1);
	}

	private void awaitEnd(String table, UUID id) {
		await(table + " " + id + " ended").atMost(Duration.ofSeconds(60))
			.pollInterval(Duration.ofMillis(100))
			.until(() -> !((String) row(table, id).get("status")).matches("queued|running"));
	}

	/**
	 * Another replica claimed the running row (this one stalled, or was cut off from the
	 * database, and its lease lapsed); its heartbeat is far ahead, so this one never
	 * claims it back.
	 */
	private int steal(String table, UUID id) {
		int stolen = this.jdbc
			.sql("update " + table + " set claimed_by = :other, heartbeat_at = now() + interval '1 hour'"
					+ " where id = :id and status = 'running'")
			.param("other", OTHER_REPLICA)
			.param("id", id)
			.update();
		assertThat(stolen).as("%s %s still running when stolen", table, id).isEqualTo(1);
		return done(table, id);
	}

	@Test
	void aReplicaThatLostASweepsLeaseStopsItWithoutWritingMore() {
		UUID id = sweep(200);
		awaitProgress(Leases.SWEEP, id);
		int stolenAt = steal(Leases.SWEEP, id);
		// One worker, in order: once the next sweep ended here, the stolen one stopped.
		UUID next = sweep(1);
		awaitEnd(Leases.SWEEP, next);
		assertThat(row(Leases.SWEEP, next).get("status")).isEqualTo("done");

		Map<String, Object> stolen = row(Leases.SWEEP, id);
		assertThat(stolen.get("status")).as(stolen.toString()).isEqualTo("running");
		assertThat(stolen.get("claimed_by")).isEqualTo(OTHER_REPLICA);
		assertThat(done(Leases.SWEEP, id)).isEqualTo(stolenAt);
		assertThat(this.jdbc.sql("select count(*) from sweep_result where sweep_id = :id")
			.param("id", id)
			.query(Integer.class)
			.single()).isEqualTo(stolenAt);
	}

	@Test
	void aReplicaThatLostAnEvaluationsLeaseStopsItWithoutWritingMore() {
		UUID id = evaluation(1);
		awaitProgress(Leases.EVALUATION, id);
		int stolenAt = steal(Leases.EVALUATION, id);
		UUID next = evaluation(256);
		awaitEnd(Leases.EVALUATION, next);
		assertThat(row(Leases.EVALUATION, next).get("status")).isEqualTo("done");

		Map<String, Object> stolen = row(Leases.EVALUATION, id);
		assertThat(stolen.get("status")).as(stolen.toString()).isEqualTo("running");
		assertThat(stolen.get("claimed_by")).isEqualTo(OTHER_REPLICA);
		assertThat(done(Leases.EVALUATION, id)).isEqualTo(stolenAt);
	}

	/**
	 * A take-over that throws must not leave its row held, renewed for ever by a replica
	 * that does not run it, nor keep the rest of the tick's lapsed rows from being taken
	 * over.
	 */
	@Test
	void aTakeOverThatThrowsLetsTheRowLapseAgainAndTheNextIsStillTakenOver() {
		Set<UUID> takenOver = ConcurrentHashMap.newKeySet();
		UUID failing = UUID.randomUUID();
		UUID taken = UUID.randomUUID();
		this.leases.onLapsed(Leases.EVALUATION, (lapsed) -> {
			if (lapsed.equals(failing)) {
				throw new IllegalStateException("the take-over failed");
			}
			takenOver.add(lapsed);
		});
		// Taken over oldest first: the failing one, then the other.
		orphan(failing, "2 hours");
		orphan(taken, "1 hour");
		await().atMost(Duration.ofSeconds(10)).until(() -> takenOver.contains(taken));
		Map<String, Object> claimed = row(Leases.EVALUATION, failing);
		assertThat(claimed.get("claimed_by")).isEqualTo(this.leases.instanceId());
		String takenAt = (String) row(Leases.EVALUATION, taken).get("heartbeat");
		// The next tick, a second on, renews the row taken over; the other is not renewed
		// (it lapses again only after the 3 s lease, and is tried again then).
		await().atMost(Duration.ofSeconds(10))
			.pollInterval(Duration.ofMillis(50))
			.until(() -> !row(Leases.EVALUATION, taken).get("heartbeat").equals(takenAt));
		assertThat(row(Leases.EVALUATION, failing).get("heartbeat")).isEqualTo(claimed.get("heartbeat"));
	}

	/** An evaluation row left running by a dead replica, its heartbeat this long ago. */
	private void orphan(UUID id, String ago) {
		this.jdbc.sql("""
				insert into evaluation (id, status, examples_done, examples_total, correct, created_at, claimed_by,
				                        heartbeat_at)
				values (:id, 'running', 0, 10, 0, now() - cast(:ago as interval), 'gone@nowhere/dead',
				        now() - cast(:ago as interval))""").param("id", id).param("ago", ago).update();
	}

	/**
	 * A replica shutting down leaves its running sweep and evaluation to be taken over,
	 * as compositions go back to the queue, rather than record them as failed: it hands
	 * them back, lapsed at once, and writes nothing more. Last, as it closes this
	 * context's workers.
	 */
	@Test
	@Order(Integer.MAX_VALUE)
	void aShutdownHandsTheRunningSweepAndEvaluationBackForAnotherReplica() {
		UUID sweep = sweep(200);
		awaitProgress(Leases.SWEEP, sweep);
		UUID evaluation = evaluation(1);
		awaitProgress(Leases.EVALUATION, evaluation);
		this.evaluations.close();
		this.sweeps.close();
		int sweepAt = done(Leases.SWEEP, sweep);
		int evaluationAt = done(Leases.EVALUATION, evaluation);
		for (Map.Entry<String, UUID> work : Map.of(Leases.SWEEP, sweep, Leases.EVALUATION, evaluation).entrySet()) {
			Map<String, Object> row = row(work.getKey(), work.getValue());
			assertThat(row.get("status")).as(row.toString()).isEqualTo("running");
			assertThat(row.get("error")).as(row.toString()).isNull();
			assertThat(row.get("claimed_by")).as(row.toString()).isNull();
			assertThat(row.get("heartbeat")).as(row.toString()).isEqualTo("-infinity");
		}

		Set<UUID> takenOver = ConcurrentHashMap.newKeySet();
		try (Leases other = new Leases(this.jdbc, this.properties)) {
			other.onLapsed(Leases.SWEEP, takenOver::add);
			other.onLapsed(Leases.EVALUATION, takenOver::add);
			other.start();
			await().atMost(Duration.ofSeconds(10)).until(() -> takenOver.containsAll(List.of(sweep, evaluation)));
			assertThat(row(Leases.SWEEP, sweep).get("claimed_by")).isEqualTo(other.instanceId());
			assertThat(row(Leases.EVALUATION, evaluation).get("claimed_by")).isEqualTo(other.instanceId());
		}
		// Whatever this replica's workers still did wrote nothing: the rows are the
		// other's now.
		assertThat(done(Leases.SWEEP, sweep)).isEqualTo(sweepAt);
		assertThat(done(Leases.EVALUATION, evaluation)).isEqualTo(evaluationAt);
		assertThat(row(Leases.SWEEP, sweep).get("status")).isEqualTo("running");
		assertThat(row(Leases.EVALUATION, evaluation).get("status")).isEqualTo("running");
	}

}
