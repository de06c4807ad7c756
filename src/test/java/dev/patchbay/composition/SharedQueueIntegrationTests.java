package dev.patchbay.composition;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.jdbc.core.simple.JdbcClient;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.Replicas;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Two instances of the service, each a full application context with its own server and
 * result cache, sharing one PostgreSQL and one blob store, as two replicas behind one
 * Service do.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class SharedQueueIntegrationTests {

	private static final Duration LEASE = Duration.ofSeconds(3);

	private Replicas replicas;

	private ConfigurableApplicationContext first;

	private ConfigurableApplicationContext second;

	private ApiClient api;

	private ApiClient other;

	@BeforeAll
	void startTwoInstances() {
		this.replicas = Replicas.start("shared", "patchbay.composition.lease-timeout=" + LEASE.toMillis() + "ms",
				"patchbay.composition.poll-interval=100ms");
		this.first = this.replicas.first();
		this.second = this.replicas.second();
		this.api = new ApiClient(this.first.getEnvironment());
		this.other = new ApiClient(this.second.getEnvironment());
	}

	@AfterAll
	void stop() {
		this.replicas.close();
	}

	@Test
	void aRecipeSentToBothInstancesAtOnceIsComputedOnceAndServedByBoth() throws InterruptedException {
		String recipeBase = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "shared-base")).file("weights", Fixtures.path("lora_llama/base.safetensors")));
		String patch = this.api.uploadLora("shared-lora", "lora_llama/adapter");
		Map<String, Object> recipe = Map.of("baseModelId", recipeBase, "terms",
				List.of(Map.of("patchId", patch, "weight", 1.0)));
		CompletableFuture<String> onFirst = CompletableFuture.supplyAsync(() -> this.api.compose(recipe));
		CompletableFuture<String> onSecond = CompletableFuture.supplyAsync(() -> this.other.compose(recipe));
		String id = onFirst.join();
		assertThat(onSecond.join()).isEqualTo(id);

		byte[] fromSecond = this.other.get("/api/v1/compositions/" + id + "/weights").body();
		byte[] fromFirst = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		assertThat(fromSecond).isEqualTo(fromFirst);
		assertThat(Fixtures.floats(fromFirst).keySet())
			.isEqualTo(Fixtures.floats(Fixtures.path("lora_llama/expected_merged.safetensors")).keySet());
		assertThat(computations(this.first) + computations(this.second)).as("computed once, by the queue").isEqualTo(1);
		// A result that is not materialized lives only in the cache of the instance that
		// computed it: the other one recomputes it into its own cache on its first
		// download (checked against the recorded digest), and serves it from there after.
		boolean firstComputed = computations(this.first) == 1;
		ConfigurableApplicationContext computing = firstComputed ? this.first : this.second;
		ConfigurableApplicationContext refilling = firstComputed ? this.second : this.first;
		// Counted just after the bytes are released to the reader.
		await("the refill counted").atMost(Duration.ofSeconds(10))
			.pollInterval(Duration.ofMillis(10))
			.until(() -> refills(refilling) >= 1);
		assertThat(refills(refilling)).isEqualTo(1);
		assertThat(refills(computing)).isZero();
		ApiClient refilled = firstComputed ? this.other : this.api;
		assertThat(refilled.get("/api/v1/compositions/" + id + "/weights").body()).isEqualTo(fromFirst);
		assertThat(refills(refilling)).as("served from its cache after the refill").isEqualTo(1);
	}

	@Test
	void aCompositionLeftRunningByAKilledInstanceIsTakenOverOnceItsLeaseExpires() throws InterruptedException {
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "takeover-base")).file("weights",
				Fixtures.path("dora_llama/base.safetensors")));
		String patch = this.api.uploadLora("takeover-dora", "dora_llama/adapter");
		String id = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch, "weight", 1.0))));
		this.api.awaitReady(id, Duration.ofSeconds(60));
		byte[] result = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		long before = computations(this.first) + computations(this.second);

		// The row as an instance killed in mid-computation leaves it: running, claimed,
		// and
		// its lease renewed a moment ago for the last time.
		JdbcClient database = this.first.getBean(JdbcClient.class);
		assertThat(database.sql("""
				update composition set status = 'RUNNING', claimed_by = 'killed-instance', heartbeat_at = now(),
				result_digest = null, tensors_done = 0, bytes_done = 0, finished_at = null where id = :id""")
			.param("id", UUID.fromString(id))
			.update()).isEqualTo(1);

		// A live lease is respected: running throughout, untouched by the other instance.
		await("a live lease respected").during(LEASE.dividedBy(3))
			.atMost(LEASE.dividedBy(2))
			.pollInterval(Duration.ofMillis(100))
			.until(() -> this.other.get("/api/v1/compositions/" + id).json().get("status").asString(),
					"running"::equals);
		this.other.awaitReady(id, LEASE.plusSeconds(60));
		assertThat(this.other.get("/api/v1/compositions/" + id + "/weights").body()).isEqualTo(result);
		assertThat(database.sql("select claimed_by from composition where id = :id")
			.param("id", UUID.fromString(id))
			.query(String.class)
			.single()).isNotEqualTo("killed-instance");
		assertThat(computations(this.first) + computations(this.second)).isEqualTo(before + 1);
	}

	private static long computations(ConfigurableApplicationContext context) {
		return outcomes(context, "ready");
	}

	private static long refills(ConfigurableApplicationContext context) {
		return outcomes(context, "refill");
	}

	private static long outcomes(ConfigurableApplicationContext context, String outcome) {
		Timer timer = context.getBean(MeterRegistry.class)
			.find("patchbay.composition.duration")
			.tag("outcome", outcome)
			.timer();
		return (timer != null) ? timer.count() : 0;
	}

}
