package dev.patchbay.api;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;

import org.assertj.core.data.Offset;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import tools.jackson.databind.JsonNode;

import org.springframework.jdbc.core.simple.JdbcClient;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.Replicas;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A sharded composition on two instances sharing one PostgreSQL: each shard is a unit of
 * the shared queue, so both instances compute parts of it, and a reader of one shard
 * waits for that shard alone. The queue's pollers are held off (an hour between polls,
 * one worker each) so that which instance computes which shard follows from the reads
 * alone.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ShardedQueueIntegrationTests {

	/** Stands for a live instance that holds a shard and never finishes it. */
	private static final String STALLED = "stalled@elsewhere/00000000";

	private Replicas replicas;

	private ApiClient first;

	private ApiClient second;

	private JdbcClient database;

	@BeforeAll
	void startTwoInstances() {
		this.replicas = Replicas.start("sharded",
				"patchbay.composition.shard-size=" + FolderIntegrationTests.SHARD_SIZE,
				"patchbay.composition.poll-interval=1h", "patchbay.composition.workers=1");
		this.first = new ApiClient(this.replicas.first().getEnvironment());
		this.second = new ApiClient(this.replicas.second().getEnvironment());
		this.database = this.replicas.first().getBean(JdbcClient.class);
	}

	@AfterAll
	void stop() {
		this.replicas.close();
	}

	@Test
	void twoInstancesComputeOneCompositionShardByShardAndAReaderWaitsForItsShardAlone() {
		String base = FolderIntegrationTests.uploadLlamaFolder(this.first, "sharded-llama");
		String lora = this.first.uploadLora("sharded-llama-lora", "lora_llama/adapter");
		String id = this.first
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 1.0))));
		UUID composition = UUID.fromString(id);
		List<String> shards = shardNames(id);
		assertThat(shards).as("the 128KB layout of the tiny Llama").hasSize(4);
		// The first instance's one worker took the first unit as the composition was
		// created; the second unit is held by an instance that never finishes it.
		assertThat(this.database.sql("""
				update composition_shard set status = 'RUNNING', claimed_by = :stalled, heartbeat_at = now()
				where composition_id = :id and shard_index = 1 and status = 'PENDING'""")
			.param("stalled", STALLED)
			.param("id", composition)
			.update()).isEqualTo(1);

		Response third = this.second.get("/api/v1/compositions/" + id + "/files/" + shards.get(2));
		assertThat(third.code()).isEqualTo(200);
		assertThat(unit(composition, 1).get("claimed_by")).as("shard 2, still held, was not waited for")
			.isEqualTo(STALLED);
		assertThat(unit(composition, 1).get("status")).isEqualTo("RUNNING");
		Response fourth = this.first.get("/api/v1/compositions/" + id + "/files/" + shards.get(3));
		assertThat(fourth.code()).isEqualTo(200);
		Object thirdBy = unit(composition, 2).get("claimed_by");
		Object fourthBy = unit(composition, 3).get("claimed_by");
		assertThat(Arrays.asList(thirdBy, fourthBy)).as("computed by the instances that were read")
			.doesNotContainNull()
			.doesNotContain(STALLED);
		assertThat(thirdBy).as("two instances computed parts of one composition").isNotEqualTo(fourthBy);
		assertThat(this.first.get("/api/v1/compositions/" + id).json().get("status").asString()).isEqualTo("running");

		// The stalled instance's lease is handed back; reading its shard computes it, and
		// with that last unit the composition is ready.
		this.database.sql("""
				update composition_shard set status = 'PENDING', claimed_by = null, heartbeat_at = null
				where composition_id = :id and shard_index = 1""").param("id", composition).update();
		Response second = this.second.get("/api/v1/compositions/" + id + "/files/" + shards.get(1));
		assertThat(second.code()).isEqualTo(200);
		JsonNode ready = this.first.awaitReady(id, Duration.ofSeconds(60));
		assertThat(ready.get("status").asString()).isEqualTo("ready");

		// Every shard read through the first instance, those computed by the second
		// recomputed there and checked against their recorded digests, joins to PEFT's
		// merge; so does the whole file.
		Map<String, float[]> joined = new TreeMap<>();
		for (String shard : shards) {
			Response response = this.first.get("/api/v1/compositions/" + id + "/files/" + shard);
			assertThat(response.code()).as(shard).isEqualTo(200);
			assertThat(Fixtures.header(response.body()).path("__metadata__").path("format").asString()).isEqualTo("pt");
			joined.putAll(Fixtures.floats(response.body()));
		}
		Fixtures.floats(third.body())
			.forEach((tensor, values) -> assertThat(joined.get(tensor)).as("shard 3 on both instances: " + tensor)
				.containsExactly(values));
		Map<String, float[]> expected = Fixtures.floats(Fixtures.path("lora_llama/expected_merged.safetensors"));
		assertThat(joined.keySet()).isEqualTo(expected.keySet());
		expected.forEach((tensor, values) -> {
			float[] actual = joined.get(tensor);
			for (int i = 0; i < values.length; i++) {
				assertThat(actual[i]).as(tensor).isCloseTo(values[i], Offset.offset(1e-5f));
			}
		});
		Map<String, float[]> whole = Fixtures.floats(this.second.get("/api/v1/compositions/" + id + "/weights").body());
		whole.forEach((tensor, values) -> assertThat(joined.get(tensor)).as(tensor).containsExactly(values));
	}

	private List<String> shardNames(String id) {
		return this.first.get("/api/v1/compositions/" + id + "/files")
			.json()
			.valueStream()
			.map((entry) -> entry.get("path").asString())
			.filter((path) -> path.matches("model-\\d{5}-of-\\d{5}\\.safetensors"))
			.sorted()
			.toList();
	}

	private Map<String, Object> unit(UUID composition, int index) {
		return this.database
			.sql("select status, claimed_by from composition_shard where composition_id = :id and shard_index = :index")
			.param("id", composition)
			.param("index", index)
			.query()
			.singleRow();
	}

}
