package dev.patchbay.storage;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.services.s3.S3Client;

import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.util.unit.DataSize;

import dev.patchbay.PatchbayApplication;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.TestDatabase;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.within;
import static org.awaitility.Awaitility.await;

/**
 * The S3 store against a real S3-compatible server: S3Proxy, started here as its own
 * process on localhost over a directory, and reached through the AWS SDK exactly as in
 * production.
 */
class S3BlobStoreIntegrationTests extends BlobStoreContract {

	private static final Path SERVER_JAR = Path.of("target/s3proxy/s3proxy.jar");

	private static final String BUCKET = "patchbay-test";

	private static Process server;

	private static URI endpoint;

	private static S3Client s3;

	private final String prefix = "blobs-" + UUID.randomUUID() + "/";

	@BeforeAll
	static void startServer() throws Exception {
		int port;
		try (ServerSocket socket = new ServerSocket(0)) {
			port = socket.getLocalPort();
		}
		Path work = Files.createDirectories(Path.of("target/s3proxy/run-" + port));
		Files.createDirectories(work.resolve("data"));
		Path config = Files.writeString(work.resolve("s3proxy.conf"),
				String.join("\n", "s3proxy.endpoint=http://127.0.0.1:" + port, "s3proxy.authorization=aws-v2-or-v4",
						"s3proxy.identity=test-access-key", "s3proxy.credential=test-secret-key",
						"jclouds.provider=filesystem-nio2",
						"jclouds.filesystem.basedir=" + work.resolve("data").toAbsolutePath()));
		server = new ProcessBuilder(ProcessHandle.current().info().command().orElse("java"), "-Xmx256m", "-jar",
				SERVER_JAR.toString(), "--properties", config.toString())
			.redirectErrorStream(true)
			.redirectOutput(work.resolve("server.log").toFile())
			.start();
		endpoint = URI.create("http://127.0.0.1:" + port);
		awaitListening(port);
		s3 = S3BlobStore.client(settings("unused/", DataSize.ofGigabytes(1)));
		s3.createBucket((create) -> create.bucket(BUCKET));
	}

	@AfterAll
	static void stopServer() throws InterruptedException {
		if (s3 != null) {
			s3.close();
		}
		if (server != null) {
			server.destroy();
			server.waitFor();
		}
	}

	@Override
	BlobStore newStore(Path root) throws IOException {
		return store(root, DataSize.ofGigabytes(1));
	}

	@Override
	BlobStore reopen(Path root) throws IOException {
		return store(root, DataSize.ofGigabytes(1));
	}

	@Override
	long splitSize() {
		return 5L << 20;
	}

	@Test
	void aLargeBlobGoesUpInPartsAndLeavesNoUnfinishedUpload() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		byte[] content = bytes((int) (2 * splitSize() + 1), 6);
		StagedBlob staged = store.stage(new ByteArrayInputStream(content), Long.MAX_VALUE);
		store.commit(staged);
		assertThat(s3.headObject((head) -> head.bucket(BUCKET).key(this.prefix + staged.digest())).metadata())
			.containsEntry("sha256", staged.digest());
		assertThat(s3.listMultipartUploads((list) -> list.bucket(BUCKET).prefix(this.prefix)).uploads()).isEmpty();
	}

	@Test
	void anAbandonedWriteUploadsNothing() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		byte[] content = bytes(1_000, 7);
		try (BlobOutput out = store.create()) {
			out.write(content, 0, content.length);
		}
		assertThat(s3.listObjectsV2((list) -> list.bucket(BUCKET).prefix(this.prefix)).contents()).isEmpty();
	}

	@Test
	void aBlobWhoseBytesDoNotMatchItsDigestIsRefusedAndNotCached() throws IOException {
		String claimed = sha256(bytes(100, 8));
		s3.putObject((put) -> put.bucket(BUCKET).key(this.prefix + claimed), RequestBody.fromBytes(bytes(100, 9)));
		Path root = this.temp.resolve("a");
		BlobStore store = newStore(root);
		assertThatExceptionOfType(UncheckedIOException.class).isThrownBy(() -> store.localPath(claimed))
			.withMessageContaining("corrupt");
		try (var files = Files.walk(root)) {
			assertThat(files.filter(Files::isRegularFile)).isEmpty();
		}
	}

	@Test
	void theLocalCacheStaysWithinItsSizeAndEvictedBlobsAreFetchedAgain() throws IOException {
		Path root = this.temp.resolve("a");
		BlobStore store = store(root, DataSize.ofBytes(10_000));
		byte[][] contents = { bytes(6_000, 10), bytes(6_000, 11), bytes(6_000, 12) };
		for (byte[] content : contents) {
			store.commit(store.stage(new ByteArrayInputStream(content), Long.MAX_VALUE));
		}
		try (var files = Files.walk(root.resolve("sha256"))) {
			assertThat(files.filter(Files::isRegularFile).count()).isEqualTo(1);
		}
		assertThat(Files.readAllBytes(store.localPath(sha256(contents[0])))).isEqualTo(contents[0]);
	}

	@Test
	void aPinnedBlobIsNotEvictedUntilItsReaderLetsItGo() throws IOException {
		Path root = this.temp.resolve("a");
		BlobStore store = store(root, DataSize.ofBytes(10_000));
		byte[] read = bytes(6_000, 20);
		store.commit(store.stage(new ByteArrayInputStream(read), Long.MAX_VALUE));
		Path pinnedPath;
		try (BlobStore.Pin pin = store.pin(sha256(read))) {
			pinnedPath = pin.path();
			store.commit(store.stage(new ByteArrayInputStream(bytes(6_000, 21)), Long.MAX_VALUE));
			store.commit(store.stage(new ByteArrayInputStream(bytes(6_000, 22)), Long.MAX_VALUE));
			assertThat(pin.path()).as("pinned while over the cache size").exists();
			assertThat(Files.readAllBytes(pin.path())).isEqualTo(read);
		}
		assertThat(pinnedPath).as("evicted once let go").doesNotExist();
	}

	@Test
	void failuresToReachTheBucketAreCountedByOperation() throws IOException {
		SimpleMeterRegistry meters = new SimpleMeterRegistry();
		StorageProperties.S3 missingBucket = new StorageProperties.S3("no-such-bucket", this.prefix, endpoint,
				"us-east-1", true, "test-access-key", "test-secret-key", DataSize.ofMegabytes(5),
				DataSize.ofGigabytes(1));
		BlobStore store = new MeteredBlobStore(
				new S3BlobStore(s3, missingBucket, new FileSystemBlobStore(this.temp.resolve("a"))), meters);
		StagedBlob staged = store.stage(new ByteArrayInputStream(bytes(10, 13)), Long.MAX_VALUE);
		assertThatExceptionOfType(IOException.class).isThrownBy(() -> store.commit(staged))
			.withMessageContaining("uploading blob " + staged.digest());
		assertThat(meters.get("patchbay.blob.store.errors").tag("operation", "commit").counter().count()).isEqualTo(1);
	}

	@Test
	void theServiceConfiguredForS3KeepsUploadsInTheBucket() throws IOException {
		Path model = Path.of("src/test/resources/fixtures/lora_llama/base.safetensors");
		try (ConfigurableApplicationContext service = service("service")) {
			ApiClient api = new ApiClient(service.getEnvironment());
			String id = api.upload("/api/v1/models",
					ApiClient.multipart(Map.of("name", "s3-model")).file("weights", model));
			String key = this.prefix + sha256(Files.readAllBytes(model));
			assertThat(s3.headObject((head) -> head.bucket(BUCKET).key(key)).contentLength())
				.isEqualTo(Files.size(model));
			assertThat(api.get("/api/v1/models/" + id + "/weights").body()).isEqualTo(Files.readAllBytes(model));
		}
	}

	/**
	 * Each input evicts the one fetched before it from a cache smaller than either,
	 * unless the composition pins what it has resolved until it has read it.
	 */
	@Test
	void aCompositionPinsItsInputsInALocalCacheTooSmallForThem() throws IOException {
		Path fixture = Path.of("src/test/resources/fixtures/lora_llama");
		try (ConfigurableApplicationContext service = service("pinned", "--patchbay.storage.s3.cache-size=1KB")) {
			ApiClient api = new ApiClient(service.getEnvironment());
			String base = api.upload("/api/v1/models", ApiClient.multipart(Map.of("name", "s3-pinned-base"))
				.file("weights", fixture.resolve("base.safetensors")));
			String lora = api.uploadLora("s3-pinned-lora", "lora_llama/adapter");
			String id = api
				.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", lora, "weight", 1.0))));
			Map<String, float[]> merged = Fixtures.floats(api.get("/api/v1/compositions/" + id + "/weights").body());
			Map<String, float[]> expected = Fixtures.floats(fixture.resolve("expected_merged.safetensors"));
			assertThat(merged).containsOnlyKeys(expected.keySet());
			expected.forEach(
					(name, values) -> assertThat(merged.get(name)).as(name).containsExactly(values, within(1e-5f)));
		}
	}

	private ConfigurableApplicationContext service(String dataDir, String... extra) {
		List<String> args = new ArrayList<>(
				List.of("--server.port=0", "--patchbay.data-dir=" + this.temp.resolve(dataDir),
						"--patchbay.security.admin-key=" + ApiClient.TEST_ADMIN_KEY, "--patchbay.storage.type=s3",
						"--patchbay.storage.s3.bucket=" + BUCKET, "--patchbay.storage.s3.prefix=" + this.prefix,
						"--patchbay.storage.s3.endpoint=" + endpoint, "--patchbay.storage.s3.path-style-access=true",
						"--patchbay.storage.s3.access-key-id=test-access-key",
						"--patchbay.storage.s3.secret-access-key=test-secret-key"));
		args.addAll(List.of(extra));
		return new SpringApplicationBuilder(PatchbayApplication.class, TestDatabase.class)
			.run(args.toArray(String[]::new));
	}

	private BlobStore store(Path root, DataSize cacheSize) throws IOException {
		return new S3BlobStore(s3, settings(this.prefix, cacheSize), new FileSystemBlobStore(root));
	}

	private static StorageProperties.S3 settings(String prefix, DataSize cacheSize) {
		return new StorageProperties.S3(BUCKET, prefix, endpoint, "us-east-1", true, "test-access-key",
				"test-secret-key", DataSize.ofMegabytes(5), cacheSize);
	}

	private static void awaitListening(int port) {
		await("S3Proxy listening on port " + port).atMost(Duration.ofSeconds(60))
			.pollInterval(Duration.ofMillis(100))
			.until(() -> {
				if (!server.isAlive()) {
					throw new IllegalStateException("S3Proxy exited with " + server.exitValue());
				}
				try (Socket socket = new Socket()) {
					socket.connect(new InetSocketAddress("127.0.0.1", port), 200);
					return true;
				}
				catch (IOException ex) {
					return false;
				}
			});
	}

}
