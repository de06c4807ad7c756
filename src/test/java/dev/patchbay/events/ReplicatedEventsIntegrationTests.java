package dev.patchbay.events;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.context.ConfigurableApplicationContext;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.Replicas;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

/**
 * Two replicas on one PostgreSQL and one blob store: both poll the same deliveries, and
 * each event still reaches a webhook once; a composition is followed through the other
 * replica's event stream.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ReplicatedEventsIntegrationTests {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private Replicas replicas;

	private ConfigurableApplicationContext first;

	private ConfigurableApplicationContext second;

	private ApiClient api;

	private ApiClient other;

	@BeforeAll
	void startTwoInstances() {
		this.replicas = Replicas.start("events", "patchbay.events.poll-interval=50ms",
				"patchbay.events.stream-poll-interval=100ms");
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
	void bothReplicasDeliverFromOneOutboxAndEachEventArrivesOnce() throws Exception {
		ConcurrentMap<String, AtomicInteger> received = new ConcurrentHashMap<>();
		HttpServer receiver = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
		receiver.createContext("/hook", (exchange) -> {
			try (InputStream in = exchange.getRequestBody()) {
				String id = JSON.readTree(in.readAllBytes()).get("id").asString();
				received.computeIfAbsent(id, (key) -> new AtomicInteger()).incrementAndGet();
			}
			exchange.sendResponseHeaders(204, -1);
			exchange.close();
		});
		receiver.start();
		try {
			String url = "http://127.0.0.1:" + receiver.getAddress().getPort() + "/hook";
			assertThat(this.api
				.postJson("/api/v1/webhooks",
						Map.of("url", url, "events", List.of("artifact.created"), "secret", "replicated-secret-0123"))
				.code()).isEqualTo(201);
			List<String> artifacts = new ArrayList<>();
			for (int i = 0; i < 12; i++) {
				// Half through each replica: the outbox is one, whoever wrote to it.
				ApiClient replica = (i % 2 == 0) ? this.api : this.other;
				artifacts.add(replica.upload("/api/v1/datasets",
						multipart(Map.of("name", "replicated-" + i + "-" + UUID.randomUUID())).file("data",
								Fixtures.path("digits/testset.safetensors"))));
			}
			await("every event delivered").atMost(Duration.ofSeconds(30))
				.pollInterval(Duration.ofMillis(20))
				.until(() -> received.size() >= artifacts.size());
			// Once each, and still once each for half a second past the last: a duplicate
			// would have had time to arrive.
			await("each event delivered once").during(Duration.ofMillis(500))
				.atMost(Duration.ofSeconds(2))
				.until(() -> received.size() == artifacts.size()
						&& received.values().stream().allMatch((count) -> count.get() == 1));
		}
		finally {
			receiver.stop(0);
		}
	}

	@Test
	void aCompositionCreatedOnOneReplicaIsFollowedToReadyThroughTheOther() {
		String suffix = UUID.randomUUID().toString();
		String base = this.api.upload("/api/v1/models", multipart(Map.of("name", "replicated-base-" + suffix))
			.file("weights", Fixtures.path("lora_llama/base.safetensors")));
		String patch = this.api.uploadLora("replicated-lora-" + suffix, "lora_llama/adapter");
		String composition = this.api
			.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch, "weight", 0.5))));

		List<String> lines = assertTimeoutPreemptively(Duration.ofSeconds(60), () -> stream(this.second, composition));
		assertThat(lines).contains("event:composition.ready");
		String lastData = lines.stream().filter((line) -> line.startsWith("data:")).reduce((a, b) -> b).orElseThrow();
		JsonNode last = JSON.readTree(lastData.substring("data:".length()));
		assertThat(last.get("status").asString()).isEqualTo("ready");
		assertThat(last.get("compositionId").asString()).isEqualTo(composition);
	}

	/** The stream's lines, as read over HTTP until the server ends it. */
	private static List<String> stream(ConfigurableApplicationContext replica, String composition)
			throws IOException, InterruptedException {
		String url = "http://localhost:" + replica.getEnvironment().getRequiredProperty("local.server.port")
				+ "/api/v1/compositions/" + composition + "/events";
		return HttpClient.newHttpClient()
			.send(HttpRequest.newBuilder(URI.create(url))
				.header("Authorization", "Bearer " + ApiClient.TEST_ADMIN_KEY)
				.build(), HttpResponse.BodyHandlers.ofLines())
			.body()
			.map((line) -> line.replaceFirst("^(\\w+): ", "$1:"))
			.toList();
	}

}
