package dev.patchbay.api;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;

import io.micrometer.core.instrument.MeterRegistry;
import org.apache.catalina.startup.Tomcat;
import org.apache.coyote.AbstractProtocol;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.tomcat.TomcatWebServer;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.core.env.Environment;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.storage.BlobStore;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;
import static org.hamcrest.Matchers.equalTo;

/**
 * Downloads over real sockets, with the old async request limit and the idle-write
 * timeout both shortened, so that slow and stalled readers take seconds, not minutes.
 */
@IntegrationTest
@TestPropertySource(properties = { "patchbay.api.download-idle-timeout=1s", "spring.mvc.async.request-timeout=500ms" })
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DownloadIntegrationTests {

	/** Far more than the socket buffers hold, so a reader's pace governs the transfer. */
	private static final int SIZE = 24 << 20;

	/**
	 * Tomcat's connection count of a server with no connection open: its acceptor counts
	 * the one it waits for.
	 */
	private static final long IDLE_CONNECTIONS = 1;

	@Autowired
	ApiClient api;

	@Autowired
	Environment environment;

	@Autowired
	BlobStore blobs;

	@Autowired
	MeterRegistry meters;

	@Autowired
	WebServerApplicationContext context;

	/** The same tensors stored as one file (sent with sendfile) and as two shards. */
	private Models models;

	@BeforeAll
	void registerModels(@TempDir Path dir) throws IOException {
		this.models = registerPair(dir, "large", SIZE);
	}

	@ParameterizedTest
	@ValueSource(strings = { "single", "sharded" })
	void steadyReaderSlowerThanTheOldLimitGetsEveryByte(String layout) throws IOException {
		Models models = this.models;
		String id = models.id(layout);
		long started = System.nanoTime();
		try (RawDownload download = RawDownload.open(port(), "/api/v1/models/" + id + "/weights")) {
			assertThat(download.status).isEqualTo(200);
			assertThat(download.contentLength).isEqualTo(models.bytes(layout).length);
			byte[] body = new byte[(int) download.contentLength];
			int read = 0;
			while (read < body.length) {
				// About 4 MB/s, in pauses far shorter than the idle timeout.
				int n = download.in.read(body, read, Math.min(64 << 10, body.length - read));
				if (n < 0) {
					break;
				}
				read += n;
				if (read % (512 << 10) < n) {
					pause(125);
				}
			}
			assertThat(read).isEqualTo(body.length);
			assertThat(body).isEqualTo(models.bytes(layout));
		}
		assertThat((System.nanoTime() - started) / 1_000_000).as("transfer time in ms, above the old 500 ms limit")
			.isGreaterThan(2_000);
	}

	@ParameterizedTest
	@ValueSource(strings = { "single", "sharded" })
	void stalledReaderIsDisconnected(String layout) throws IOException {
		String id = this.models.id(layout);
		// Idle connections of earlier requests end after one idle timeout too; once they
		// have, the download's is the only one, and its end is the server giving up.
		await().atMost(Duration.ofSeconds(10)).until(this::connections, equalTo(IDLE_CONNECTIONS));
		try (RawDownload download = RawDownload.open(port(), "/api/v1/models/" + id + "/weights")) {
			assertThat(download.status).isEqualTo(200);
			assertThat(connections()).isEqualTo(IDLE_CONNECTIONS + 1);
			// Reads nothing until the server has given up, then takes what it had sent.
			await().atMost(Duration.ofSeconds(10)).until(this::connections, equalTo(IDLE_CONNECTIONS));
			long received = download.drain();
			assertThat(received).as("bytes received before the server closed the connection")
				.isLessThan(download.contentLength);
		}
	}

	@Test
	void downloadThatLiesInOneStoredFileGoesOutThroughSendfile() {
		double sendfiles = count("sendfile");
		double streams = count("stream");
		Response range = this.api.get("/api/v1/models/" + this.models.singleId + "/weights", "Range", "bytes=100-199");
		assertThat(range.code()).isEqualTo(206);
		assertThat(range.header("Content-Range")).containsExactly("bytes 100-199/" + this.models.singleBytes().length);
		assertThat(range.body()).isEqualTo(Arrays.copyOfRange(this.models.singleBytes, 100, 200));
		assertThat(count("sendfile")).isEqualTo(sendfiles + 1);
		// A range within one tensor of a sharded model is one span of one shard, too.
		int tensorStart = this.models.shardedBytes.length - SIZE / 2;
		Response inShard = this.api.get("/api/v1/models/" + this.models.shardedId + "/weights", "Range",
				"bytes=" + tensorStart + "-" + (tensorStart + 99));
		assertThat(inShard.body())
			.isEqualTo(Arrays.copyOfRange(this.models.shardedBytes, tensorStart, tensorStart + 100));
		assertThat(count("sendfile")).isEqualTo(sendfiles + 2);
		Response whole = this.api.get("/api/v1/models/" + this.models.shardedId + "/weights");
		assertThat(whole.body()).isEqualTo(this.models.shardedBytes);
		assertThat(count("stream")).isEqualTo(streams + 1);
	}

	@ParameterizedTest
	@ValueSource(strings = { "single", "sharded" })
	void downloadWhoseStoredFileIsShorterThanRecordedEndsInAnError(String layout, @TempDir Path dir)
			throws IOException {
		Models broken = registerPair(dir, "broken-" + layout, 2 << 20);
		String id = broken.id(layout);
		String digest = layout.equals("single") ? broken.singleDigest : broken.lastShardDigest;
		try (FileChannel blob = FileChannel.open(this.blobs.localPath(digest), StandardOpenOption.WRITE)) {
			blob.truncate(blob.size() - 1000);
		}
		HttpRequest request = HttpRequest.newBuilder(URI.create(baseUrl() + "/api/v1/models/" + id + "/weights"))
			.header("Authorization", "Bearer " + ApiClient.TEST_ADMIN_KEY)
			.build();
		assertThatThrownBy(() -> HttpClient.newHttpClient().send(request, BodyHandlers.ofByteArray()))
			.isInstanceOf(IOException.class);
		try (RawDownload download = RawDownload.open(port(), "/api/v1/models/" + id + "/weights")) {
			assertThat(download.status).isEqualTo(200);
			assertThat(download.drain()).isLessThan(download.contentLength);
		}
	}

	private double count(String transfer) {
		return this.meters.get("patchbay.downloads").tag("transfer", transfer).counter().count();
	}

	/** Registers one tensor file, and the same tensor split in two shards. */
	private Models registerPair(Path dir, String name, int size) throws IOException {
		byte[] data = new byte[size];
		new Random(name.hashCode()).nextBytes(data);
		int half = size / 2;
		byte[] single = safetensors("{\"a\":{\"dtype\":\"U8\",\"shape\":[" + half + "],\"data_offsets\":[0," + half
				+ "]},\"b\":{\"dtype\":\"U8\",\"shape\":[" + half + "],\"data_offsets\":[" + half + "," + size + "]}}",
				data);
		Path file = Files.write(dir.resolve(name + ".safetensors"), single);
		JsonNode model = this.api.uploadStreaming("/api/v1/models", Map.of("name", name), "weights", file);
		byte[] first = safetensors(
				"{\"a\":{\"dtype\":\"U8\",\"shape\":[" + half + "],\"data_offsets\":[0," + half + "]}}",
				Arrays.copyOfRange(data, 0, half));
		byte[] second = safetensors(
				"{\"b\":{\"dtype\":\"U8\",\"shape\":[" + half + "],\"data_offsets\":[0," + half + "]}}",
				Arrays.copyOfRange(data, half, size));
		String index = "{\"metadata\":{},\"weight_map\":{\"a\":\"model-1.safetensors\",\"b\":\"model-2.safetensors\"}}";
		Response shards = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", name + "-sharded")).bytes("weights", "model-1.safetensors", first)
					.bytes("weights", "model-2.safetensors", second)
					.bytes("index", "model.safetensors.index.json", index.getBytes()));
		assertThat(shards.code()).as(shards.json().toString()).isEqualTo(201);
		String shardedId = shards.json().get("id").asString();
		byte[] shardedBytes = this.api.get("/api/v1/models/" + shardedId + "/weights").body();
		assertThat(Arrays.copyOfRange(shardedBytes, shardedBytes.length - size, shardedBytes.length)).isEqualTo(data);
		return new Models(model.get("id").asString(), single, model.get("files").get(0).get("sha256").asString(),
				shardedId, shardedBytes, digestOf(shards.json(), "model-2.safetensors"));
	}

	private static String digestOf(JsonNode model, String fileName) {
		for (JsonNode file : model.get("files")) {
			if (file.get("fileName").asString().equals(fileName)) {
				return file.get("sha256").asString();
			}
		}
		throw new IllegalStateException(fileName + " not in " + model);
	}

	private static byte[] safetensors(String header, byte[] data) {
		return Fixtures.raw(header, data);
	}

	private int port() {
		return Integer.parseInt(this.environment.getRequiredProperty("local.server.port"));
	}

	private String baseUrl() {
		return "http://localhost:" + port();
	}

	/** The connections the server holds open, as Tomcat counts them. */
	private long connections() {
		Tomcat tomcat = ((TomcatWebServer) this.context.getWebServer()).getTomcat();
		return ((AbstractProtocol<?>) tomcat.getConnector().getProtocolHandler()).getConnectionCount();
	}

	/**
	 * The reader's pace: how long it leaves the socket unread. Not a wait for anything; a
	 * slow reader is what the test is about.
	 */
	private static void pause(long millis) {
		try {
			Thread.sleep(millis);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
	}

	private record Models(String singleId, byte[] singleBytes, String singleDigest, String shardedId,
			byte[] shardedBytes, String lastShardDigest) {

		String id(String layout) {
			return layout.equals("single") ? this.singleId : this.shardedId;
		}

		byte[] bytes(String layout) {
			return layout.equals("single") ? this.singleBytes : this.shardedBytes;
		}

	}

}
