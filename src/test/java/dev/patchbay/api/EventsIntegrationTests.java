package dev.patchbay.api;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntUnaryOperator;
import java.util.stream.Stream;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.env.Environment;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.test.context.TestPropertySource;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.events.EventType;
import dev.patchbay.events.Events;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Webhooks delivered to a real HTTP receiver, signed and retried, and a composition's
 * server-sent event stream read over real HTTP.
 */
@IntegrationTest
@TestPropertySource(properties = { "patchbay.events.attempts=3", "patchbay.events.initial-backoff=300ms",
		"patchbay.events.timeout=2s", "patchbay.events.poll-interval=100ms",
		"patchbay.events.stream-poll-interval=100ms", "patchbay.events.stream-keep-alive=300ms" })
class EventsIntegrationTests {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final HttpClient HTTP = HttpClient.newHttpClient();

	@Autowired
	ApiClient api;

	@Autowired
	JdbcClient database;

	@Autowired
	Environment environment;

	@Autowired
	Events events;

	@Autowired
	TransactionTemplate transactions;

	private final List<Receiver> receivers = new ArrayList<>();

	@AfterEach
	void stopReceiversAndRemoveTheirWebhooks() {
		this.receivers.forEach((receiver) -> receiver.server.stop(0));
		this.api.get("/api/v1/webhooks")
			.json()
			.valueStream()
			.forEach((webhook) -> this.api.delete("/api/v1/webhooks/" + webhook.get("id").asString()));
	}

	@Test
	void aWebhookGetsASignedCompositionReadyAfterItsFirstAttemptIsAnswered500() throws Exception {
		Receiver receiver = receiver((attempt) -> (attempt == 1) ? 500 : 204);
		String secret = "whsec-" + UUID.randomUUID();
		Response registered = this.api.postJson("/api/v1/webhooks",
				Map.of("url", receiver.url(), "events", List.of("composition.ready"), "secret", secret));
		assertThat(registered.code()).as(new String(registered.body())).isEqualTo(201);
		String webhookId = registered.json().get("id").asString();
		assertThat(registered.header("Location")).singleElement().asString().endsWith("/api/v1/webhooks/" + webhookId);
		assertThat(registered.json().get("events").valueStream().map(JsonNode::asString))
			.containsExactly("composition.ready");
		assertThat(new String(registered.body())).doesNotContain(secret);

		String composition = compose(0.37);
		JsonNode ready = this.api.awaitReady(composition, Duration.ofSeconds(60));

		Received first = receiver.next();
		Received second = receiver.next();
		assertThat(first.answered()).isEqualTo(500);
		assertThat(second.answered()).isEqualTo(204);
		// A retry sends the same document, signed the same way.
		assertThat(second.body()).isEqualTo(first.body());
		for (Received delivery : List.of(first, second)) {
			assertThat(delivery.header("X-Patchbay-Signature"))
				.isEqualTo("sha256=" + hmacSha256Hex(secret, delivery.body()));
			assertThat(delivery.header("X-Patchbay-Signature"))
				.isNotEqualTo("sha256=" + hmacSha256Hex(secret + "x", delivery.body()));
			assertThat(delivery.header("Content-Type")).startsWith("application/json");
			assertThat(delivery.header("X-Patchbay-Event")).isEqualTo("composition.ready");
		}
		assertThat(Duration.between(first.at(), second.at())).as("the initial backoff")
			.isGreaterThanOrEqualTo(Duration.ofMillis(300));

		JsonNode event = JSON.readTree(second.body());
		assertThat(event.propertyNames()).containsExactly("id", "type", "occurredAt", "data");
		assertThat(event.get("type").asString()).isEqualTo("composition.ready");
		assertThat(event.get("id").asString()).isEqualTo(second.header("X-Patchbay-Event-Id"));
		assertThat(Instant.parse(event.get("occurredAt").asString())).isBefore(second.at().plusSeconds(1));
		assertThat(event.get("data").get("compositionId").asString()).isEqualTo(composition);
		assertThat(event.get("data").get("recipeDigest").asString()).isEqualTo(ready.get("recipeDigest").asString());

		JsonNode delivery = awaitDeliveryFinished(webhookId);
		assertThat(delivery.get("status").asString()).isEqualTo("delivered");
		assertThat(delivery.get("attempts").asInt()).isEqualTo(2);
		assertThat(delivery.get("lastStatus").asInt()).isEqualTo(204);
		assertThat(delivery.get("eventType").asString()).isEqualTo("composition.ready");
		assertThat(delivery.get("eventId").asString()).isEqualTo(event.get("id").asString());
		assertThat(delivery.get("id").asString()).isEqualTo(second.header("X-Patchbay-Delivery"));
		assertThat(receiver.received).as("no third attempt").isEmpty();
	}

	@Test
	void artifactsCreatedAndDeletedReachTheWebhooksSubscribedToThem() throws Exception {
		Receiver receiver = receiver((attempt) -> 200);
		Receiver other = receiver((attempt) -> 200);
		String webhookId = register(receiver, List.of("artifact.created", "artifact.deleted"));
		String otherId = register(other, List.of("composition.failed"));

		String name = "events-model-" + UUID.randomUUID();
		String model = this.api.upload("/api/v1/models",
				multipart(Map.of("name", name)).file("weights", Fixtures.path("digits/base_v2.safetensors")));
		assertThat(this.api.delete("/api/v1/models/" + model).code()).isEqualTo(204);

		JsonNode created = JSON.readTree(receiver.next().body());
		JsonNode deleted = JSON.readTree(receiver.next().body());
		assertThat(created.get("type").asString()).isEqualTo("artifact.created");
		assertThat(created.get("data").get("artifactId").asString()).isEqualTo(model);
		assertThat(created.get("data").get("artifactType").asString()).isEqualTo("model");
		assertThat(created.get("data").get("name").asString()).isEqualTo(name);
		assertThat(deleted.get("type").asString()).isEqualTo("artifact.deleted");
		assertThat(deleted.get("data").get("artifactId").asString()).isEqualTo(model);
		assertThat(deleted.get("id").asString()).isNotEqualTo(created.get("id").asString());

		// A refused upload changes nothing and so reports nothing.
		Response refused = this.api.postMultipart("/api/v1/models", multipart(Map.of("name", name + "-bad"))
			.bytes("weights", "model.safetensors", "not safetensors".getBytes(StandardCharsets.US_ASCII)));
		assertThat(refused.code()).isEqualTo(400);
		assertThat(receiver.received.poll(1, TimeUnit.SECONDS)).isNull();
		assertThat(other.received).isEmpty();
		assertThat(this.api.get("/api/v1/webhooks/" + otherId + "/deliveries").json().get("totalItems").asLong())
			.isZero();
		assertThat(this.api.get("/api/v1/webhooks/" + webhookId + "/deliveries").json().get("items"))
			.allSatisfy((delivery) -> assertThat(delivery.get("status").asString()).isEqualTo("delivered"));
	}

	@Test
	void movingAnAliasIsDeliveredAsAliasMovedWithBothVersions() throws Exception {
		Receiver receiver = receiver((attempt) -> 200);
		register(receiver, List.of("alias.moved"));
		String name = "events-alias-" + UUID.randomUUID();
		String first = this.api.upload("/api/v1/models",
				multipart(Map.of("name", name)).file("weights", Fixtures.path("digits/base_v1.safetensors")));
		String second = this.api.upload("/api/v1/models",
				multipart(Map.of("name", name)).file("weights", Fixtures.path("digits/base_v2.safetensors")));
		String alias = "/api/v1/models/" + name + "/aliases/prod";
		assertThat(this.api.putJson(alias, Map.of("version", "1")).code()).isEqualTo(201);
		assertThat(this.api.putJson(alias, Map.of("version", "2")).code()).isEqualTo(200);

		JsonNode created = JSON.readTree(receiver.next().body());
		JsonNode moved = JSON.readTree(receiver.next().body());
		assertThat(created.get("type").asString()).isEqualTo("alias.moved");
		assertThat(created.get("data").get("artifactId").asString()).isEqualTo(first);
		assertThat(created.get("data").get("previousVersion").isNull()).isTrue();
		assertThat(moved.get("data").get("name").asString()).isEqualTo(name);
		assertThat(moved.get("data").get("alias").asString()).isEqualTo("prod");
		assertThat(moved.get("data").get("version").asString()).isEqualTo("2");
		assertThat(moved.get("data").get("previousVersion").asString()).isEqualTo("1");
		assertThat(moved.get("data").get("artifactId").asString()).isEqualTo(second);
		// Pointing it where it already points moves nothing, and reports nothing.
		assertThat(this.api.putJson(alias, Map.of("version", "2")).code()).isEqualTo(200);
		assertThat(receiver.received.poll(1, TimeUnit.SECONDS)).isNull();
	}

	@Test
	void aDeliveryIsRecordedFailedAfterTheConfiguredAttempts() throws Exception {
		Receiver unavailable = receiver((attempt) -> 503);
		String unavailableId = register(unavailable, List.of("artifact.created"));
		int closedPort;
		try (ServerSocket socket = new ServerSocket(0)) {
			closedPort = socket.getLocalPort();
		}
		Response refused = this.api.postJson("/api/v1/webhooks", Map.of("url", "http://127.0.0.1:" + closedPort + "/x",
				"events", List.of("artifact.created"), "secret", "0123456789abcdef"));
		String refusedId = refused.json().get("id").asString();

		this.api.upload("/api/v1/datasets", multipart(Map.of("name", "events-data-" + UUID.randomUUID())).file("data",
				Fixtures.path("digits/testset.safetensors")));

		JsonNode failed = awaitDeliveryFinished(unavailableId);
		assertThat(failed.get("status").asString()).isEqualTo("failed");
		assertThat(failed.get("attempts").asInt()).isEqualTo(3);
		assertThat(failed.get("lastStatus").asInt()).isEqualTo(503);
		assertThat(failed.get("lastError").asString()).isEqualTo("answered HTTP 503");
		assertThat(failed.get("nextAttemptAt").isNull()).isTrue();
		assertThat(failed.get("finishedAt").isNull()).isFalse();
		assertThat(unavailable.received).hasSize(3);

		JsonNode unreachable = awaitDeliveryFinished(refusedId);
		assertThat(unreachable.get("status").asString()).isEqualTo("failed");
		assertThat(unreachable.get("attempts").asInt()).isEqualTo(3);
		assertThat(unreachable.get("lastStatus").isNull()).isTrue();
		assertThat(unreachable.get("lastError").asString()).isEqualTo("could not connect: connection refused");
	}

	@Test
	void aFailedCompositionIsDeliveredAsCompositionFailedAndEndsItsStreamFailed() throws Exception {
		Receiver receiver = receiver((attempt) -> 200);
		register(receiver, List.of("composition.failed"));
		String suffix = UUID.randomUUID().toString();
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "events-overflow-" + suffix))
			.file("weights", Fixtures.path("lora_llama/base.safetensors")));
		float[] values = new float[64];
		Arrays.fill(values, 1e30f);
		String diff = this.api.upload("/api/v1/patches",
				multipart(Map.of("kind", "diff", "name", "events-overflow-diff-" + suffix, "baseModelId", base))
					.bytes("weights", "diff.safetensors", Fixtures.f32(Map.of("model.norm.weight", new long[] { 64 }),
							Map.of("model.norm.weight", values))));
		// Both numbers are finite in float32, their product is not: the safe merge
		// refuses it.
		String composition = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", diff, "weight", 1e9))));

		JsonNode failed = JSON.readTree(receiver.next().body());
		assertThat(failed.get("type").asString()).isEqualTo("composition.failed");
		assertThat(failed.get("data").get("compositionId").asString()).isEqualTo(composition);
		assertThat(failed.get("data").get("error").get("type").asString()).endsWith("/composition-not-finite");

		List<Sse> events = assertTimeoutPreemptively(Duration.ofSeconds(30),
				() -> readStream(composition, null, (event) -> {
				}));
		assertThat(events).extracting(Sse::name).containsExactly("composition.failed", "status");
		assertThat(JSON.readTree(events.get(0).data()).get("id").asString()).isEqualTo(failed.get("id").asString());
		assertThat(JSON.readTree(events.get(1).data()).get("status").asString()).isEqualTo("failed");
	}

	@Test
	void aWebhookWithAnInvalidFieldIsRefusedNamingItAndNothingIsStored() {
		String url = "http://127.0.0.1:9/hook";
		String secret = "0123456789abcdef";
		List<String> created = List.of("artifact.created");
		List<Map.Entry<String, Map<String, Object>>> invalid = List.of(
				Map.entry("url", Map.of("events", created, "secret", secret)),
				Map.entry("url", Map.of("url", "ftp://example.com/hook", "events", created, "secret", secret)),
				Map.entry("url",
						Map.of("url", "http://example.com/" + "a".repeat(2000), "events", created, "secret", secret)),
				Map.entry("url", Map.of("url", "/relative", "events", created, "secret", secret)),
				Map.entry("url", Map.of("url", "https://user:pass@example.com/", "events", created, "secret", secret)),
				Map.entry("secret", Map.of("url", url, "events", created)),
				Map.entry("secret", Map.of("url", url, "events", created, "secret", "short")),
				Map.entry("secret", Map.of("url", url, "events", created, "secret", "x".repeat(201))),
				Map.entry("events", Map.of("url", url, "events", List.of(), "secret", secret)),
				Map.entry("events[1]",
						Map.of("url", url, "events", List.of("artifact.created", "model.exploded"), "secret", secret)),
				Map.entry("events[1]",
						Map.of("url", url, "events", List.of("alias.moved", "alias.moved"), "secret", secret)),
				Map.entry("colour", Map.of("url", url, "events", created, "secret", secret, "colour", "blue")));
		for (Map.Entry<String, Map<String, Object>> request : invalid) {
			Response response = this.api.postJson("/api/v1/webhooks", request.getValue());
			assertThat(response.code()).as(request + ": " + new String(response.body())).isEqualTo(400);
			assertThat(response.contentType()).startsWith("application/problem+json");
			assertThat(response.json().get("field").asString()).as(request.toString()).isEqualTo(request.getKey());
		}
		assertThat(this.api.get("/api/v1/webhooks").json()).isEmpty();

		String id = this.api
			.postJson("/api/v1/webhooks",
					Map.of("url", url, "events", List.of("alias.moved", "artifact.deleted"), "secret", secret))
			.json()
			.get("id")
			.asString();
		assertThat(this.api.get("/api/v1/webhooks/" + id).json().get("url").asString()).isEqualTo(url);
		assertThat(new String(this.api.get("/api/v1/webhooks").body())).contains(id).doesNotContain(secret);
		assertThat(this.api.delete("/api/v1/webhooks/" + id).code()).isEqualTo(204);
		for (String path : List.of("/api/v1/webhooks/" + id, "/api/v1/webhooks/" + id + "/deliveries")) {
			Response gone = this.api.get(path);
			assertThat(gone.code()).isEqualTo(404);
			assertThat(gone.json().get("type").asString()).endsWith("/webhook-not-found");
		}
		assertThat(this.api.delete("/api/v1/webhooks/" + id).code()).isEqualTo(404);
	}

	@Test
	void aCompositionsEventStreamCarriesItsEventsAndEndsWhenItIsReady() {
		String composition = compose(0.61);
		List<Sse> events = assertTimeoutPreemptively(Duration.ofSeconds(60),
				() -> readStream(composition, null, (event) -> {
				}));
		List<String> names = events.stream().map(Sse::name).toList();
		assertThat(names).contains("status", "composition.ready");
		Sse last = events.get(events.size() - 1);
		assertThat(last.name()).isEqualTo("status");
		JsonNode finalStatus = JSON.readTree(last.data());
		assertThat(finalStatus.get("status").asString()).isEqualTo("ready");
		assertThat(finalStatus.get("fraction").asDouble()).isEqualTo(1.0);
		assertThat(finalStatus.get("compositionId").asString()).isEqualTo(composition);
		List<String> statuses = events.stream()
			.filter((event) -> event.name().equals("status"))
			.map((event) -> JSON.readTree(event.data()).get("status").asString())
			.toList();
		assertThat(List.of("pending", "running", "ready")).containsSubsequence(statuses);

		Sse ready = events.stream().filter((event) -> event.name().equals("composition.ready")).findFirst().get();
		JsonNode readyEvent = JSON.readTree(ready.data());
		assertThat(readyEvent.get("type").asString()).isEqualTo("composition.ready");
		assertThat(readyEvent.get("data").get("compositionId").asString()).isEqualTo(composition);
		assertThat(ready.id()).isNotNull();

		// Reconnecting after the last event seen replays nothing already seen.
		List<Sse> resumed = assertTimeoutPreemptively(Duration.ofSeconds(30),
				() -> readStream(composition, ready.id(), (event) -> {
				}));
		assertThat(resumed).extracting(Sse::name).containsExactly("status");

		Response unknown = this.api.get("/api/v1/compositions/" + UUID.randomUUID() + "/events", "Accept",
				"text/event-stream");
		assertThat(unknown.code()).isEqualTo(404);
		assertThat(unknown.contentType()).startsWith("application/problem+json");
		Response badPosition = this.api.get("/api/v1/compositions/" + composition + "/events", "Last-Event-ID", "x");
		assertThat(badPosition.code()).isEqualTo(400);
		assertThat(badPosition.json().get("field").asString()).isEqualTo("Last-Event-ID");
	}

	/**
	 * Another replica computes the composition (its row says so, and its lease is fresh):
	 * the stream follows the row in the database, and stays open with keepalives
	 * meanwhile.
	 */
	@Test
	void aStreamFollowsACompositionComputedByAnotherReplicaThroughTheDatabase() throws Exception {
		UUID id = UUID.randomUUID();
		this.database.sql("""
				insert into composition (id, recipe_digest, method, density, seed, materialize, status, tensors_done,
				  tensors_total, bytes_done, bytes_total, created_at, started_at, claimed_by, heartbeat_at, dialect)
				values (:id, :digest, 'linear', 0, 0, false, 'RUNNING', 0, 4, 0, 400, now(), now(),
				  'another-replica/0000', now(), 'mergekit')""")
			.param("id", id)
			.param("digest", HexFormat.of().formatHex(UUID.randomUUID().toString().getBytes()).substring(0, 64))
			.update();
		try {
			BlockingQueue<Sse> seen = new LinkedBlockingQueue<>();
			Thread reader = new Thread(() -> readStream(id.toString(), null, seen::add));
			reader.setDaemon(true);
			reader.start();

			Sse running = seen.poll(10, TimeUnit.SECONDS);
			assertThat(running.name()).isEqualTo("status");
			assertThat(JSON.readTree(running.data()).get("status").asString()).isEqualTo("running");
			assertThat(JSON.readTree(running.data()).get("fraction").asDouble()).isZero();
			Sse keepalive = seen.poll(5, TimeUnit.SECONDS);
			assertThat(keepalive.comment()).isEqualTo("keepalive");

			this.database.sql("update composition set tensors_done = 2, bytes_done = 200 where id = :id")
				.param("id", id)
				.update();
			Sse progress = next(seen, "progress");
			assertThat(JSON.readTree(progress.data()).get("fraction").asDouble()).isEqualTo(0.5);
			assertThat(JSON.readTree(progress.data()).get("progress").get("tensorsDone").asInt()).isEqualTo(2);

			this.transactions.executeWithoutResult((status) -> {
				this.database.sql("""
						update composition set status = 'READY', tensors_done = 4, bytes_done = 400,
						result_digest = recipe_digest, finished_at = now() where id = :id""").param("id", id).update();
				this.events.publish(EventType.COMPOSITION_READY, Map.of("compositionId", id), id);
			});
			Sse readyEvent = next(seen, "composition.ready");
			assertThat(JSON.readTree(readyEvent.data()).get("data").get("compositionId").asString())
				.isEqualTo(id.toString());
			Sse ready = next(seen, "status");
			assertThat(JSON.readTree(ready.data()).get("status").asString()).isEqualTo("ready");
			reader.join(5000);
			assertThat(reader.isAlive()).as("the stream ended").isFalse();
		}
		finally {
			this.database.sql("delete from composition where id = :id").param("id", id).update();
		}
	}

	/** The next event of a name, skipping keepalives and others. */
	private static Sse next(BlockingQueue<Sse> seen, String name) throws InterruptedException {
		long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
		while (System.nanoTime() < deadline) {
			Sse event = seen.poll(100, TimeUnit.MILLISECONDS);
			if (event != null && name.equals(event.name())) {
				return event;
			}
		}
		throw new AssertionError("no " + name + " event within 10 s");
	}

	private String compose(double weight) {
		String suffix = UUID.randomUUID().toString();
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "events-base-" + suffix))
			.file("weights", Fixtures.path("digits/base_v2.safetensors")));
		String lora = this.api.uploadLora("events-lora-" + suffix, "digits/lora_flip_v2");
		return this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", weight))));
	}

	private String register(Receiver receiver, List<String> events) {
		Response registered = this.api.postJson("/api/v1/webhooks",
				Map.of("url", receiver.url(), "events", events, "secret", "secret-" + UUID.randomUUID()));
		assertThat(registered.code()).as(new String(registered.body())).isEqualTo(201);
		return registered.json().get("id").asString();
	}

	/** The newest delivery of a webhook once it is no longer pending. */
	private JsonNode awaitDeliveryFinished(String webhookId) {
		return await("a finished delivery for webhook " + webhookId).atMost(Duration.ofSeconds(30))
			.pollInterval(Duration.ofMillis(50))
			.until(() -> this.api.get("/api/v1/webhooks/" + webhookId + "/deliveries").json().get("items"),
					(items) -> !items.isEmpty() && !items.get(0).get("status").asString().equals("pending"))
			.get(0);
	}

	/** Reads a composition's event stream over HTTP until the server ends it. */
	private List<Sse> readStream(String composition, String lastEventId, java.util.function.Consumer<Sse> each) {
		HttpRequest.Builder request = HttpRequest
			.newBuilder(URI.create("http://localhost:" + this.environment.getRequiredProperty("local.server.port")
					+ "/api/v1/compositions/" + composition + "/events"))
			.header("Accept", "text/event-stream")
			.header("Authorization", "Bearer " + ApiClient.TEST_ADMIN_KEY);
		if (lastEventId != null) {
			request.header("Last-Event-ID", lastEventId);
		}
		try {
			HttpResponse<Stream<String>> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofLines());
			assertThat(response.statusCode()).isEqualTo(200);
			assertThat(response.headers().firstValue("Content-Type")).get().asString().startsWith("text/event-stream");
			List<Sse> events = new ArrayList<>();
			Map<String, String> fields = new LinkedHashMap<>();
			try (Stream<String> lines = response.body()) {
				lines.forEach((line) -> {
					if (line.isEmpty()) {
						if (!fields.isEmpty()) {
							Sse event = new Sse(fields.get("id"), fields.get("event"), fields.get("data"),
									fields.get(""));
							events.add(event);
							each.accept(event);
							fields.clear();
						}
						return;
					}
					int colon = line.indexOf(':');
					String field = (colon < 0) ? line : line.substring(0, colon);
					String value = (colon < 0) ? "" : line.substring(colon + 1).replaceFirst("^ ", "");
					fields.merge(field, value, (a, b) -> a + "\n" + b);
				});
			}
			return events;
		}
		catch (IOException ex) {
			throw new java.io.UncheckedIOException(ex);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
	}

	/** One server-sent event; {@code comment} holds a comment line's text. */
	private record Sse(String id, String name, String data, String comment) {
	}

	private static String hmacSha256Hex(String secret, byte[] body) throws Exception {
		Mac mac = Mac.getInstance("HmacSHA256");
		mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
		return HexFormat.of().formatHex(mac.doFinal(body));
	}

	/**
	 * A webhook receiver on a real socket, answering each attempt with a chosen status.
	 */
	private Receiver receiver(IntUnaryOperator status) throws IOException {
		HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
		Receiver receiver = new Receiver(server, new LinkedBlockingQueue<>());
		AtomicInteger attempts = new AtomicInteger();
		server.createContext("/hook", (exchange) -> {
			byte[] body;
			try (InputStream in = exchange.getRequestBody()) {
				body = in.readAllBytes();
			}
			int answer = status.applyAsInt(attempts.incrementAndGet());
			Map<String, String> headers = new LinkedHashMap<>();
			exchange.getRequestHeaders().forEach((name, values) -> headers.put(name.toLowerCase(), values.get(0)));
			receiver.received.add(new Received(exchange.getRequestMethod(), headers, body, answer, Instant.now()));
			exchange.sendResponseHeaders(answer, -1);
			exchange.close();
		});
		server.start();
		this.receivers.add(receiver);
		return receiver;
	}

	private record Receiver(HttpServer server, BlockingQueue<Received> received) {

		String url() {
			return "http://127.0.0.1:" + this.server.getAddress().getPort() + "/hook";
		}

		Received next() throws InterruptedException {
			Received next = this.received.poll(30, TimeUnit.SECONDS);
			assertThat(next).as("a delivery within 30 s").isNotNull();
			assertThat(next.method()).isEqualTo("POST");
			return next;
		}

	}

	private record Received(String method, Map<String, String> headers, byte[] body, int answered, Instant at) {

		String header(String name) {
			return this.headers.get(name.toLowerCase());
		}

	}

}
