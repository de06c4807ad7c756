package dev.patchbay.deploy;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.awaitility.core.ConditionTimeoutException;

import static org.awaitility.Awaitility.await;

/**
 * The packaged application in a JVM of its own, on a given data directory and the
 * embedded PostgreSQL, so that a test can kill it as an OOM killer or a node failure
 * would.
 */
final class ChildService implements AutoCloseable {

	static final String ADMIN_KEY = "child-service-admin-key-0123456789";

	private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();

	private final Process process;

	private final int port;

	private final Path log;

	private ChildService(Process process, int port, Path log) {
		this.process = process;
		this.port = port;
		this.log = log;
	}

	/** Starts the application and waits until it reports itself healthy. */
	static ChildService start(Path dataDir, Duration timeout) throws IOException, InterruptedException {
		int port;
		try (ServerSocket socket = new ServerSocket(0)) {
			port = socket.getLocalPort();
		}
		Files.createDirectories(dataDir);
		Path log = Files.createTempFile(dataDir, "service-", ".log");
		Process process = new ProcessBuilder(java(), "-Xmx384m", "-XX:TieredStopAtLevel=1", "-jar", jar().toString(),
				"--server.port=" + port, "--patchbay.data-dir=" + dataDir.toAbsolutePath(),
				"--patchbay.security.admin-key=" + ADMIN_KEY)
			.redirectErrorStream(true)
			.redirectOutput(log.toFile())
			.start();
		ChildService service = new ChildService(process, port, log);
		try {
			await().atMost(timeout)
				.pollInterval(Duration.ofMillis(200))
				.until(() -> !process.isAlive() || service.healthy());
		}
		catch (ConditionTimeoutException ex) {
			// Reported below with the service's output.
		}
		if (!process.isAlive() || !service.healthy()) {
			process.destroyForcibly().waitFor();
			throw new IllegalStateException("the service did not become healthy:\n" + service.output());
		}
		return service;
	}

	boolean healthy() {
		try {
			return send(HttpRequest.newBuilder(uri("/actuator/health")).timeout(Duration.ofSeconds(2)))
				.statusCode() == 200;
		}
		catch (IOException ex) {
			return false;
		}
	}

	HttpResponse<byte[]> send(HttpRequest.Builder request) throws IOException {
		try {
			return HTTP.send(request.header("Authorization", "Bearer " + ADMIN_KEY).build(),
					HttpResponse.BodyHandlers.ofByteArray());
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IOException(ex);
		}
	}

	URI uri(String path) {
		return URI.create("http://127.0.0.1:" + this.port + path);
	}

	int port() {
		return this.port;
	}

	Process process() {
		return this.process;
	}

	/** Everything the service wrote to stdout and stderr so far. */
	String output() {
		try {
			return Files.readString(this.log);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/** The JVM and every process it started. */
	List<ProcessHandle> tree() {
		return Stream.concat(Stream.of(this.process.toHandle()), this.process.descendants()).toList();
	}

	/** The embedded PostgreSQL server that serves a data directory, if one runs. */
	static Optional<ProcessHandle> postmaster(Path dataDir) throws IOException {
		Path pidFile = dataDir.resolve("pg/postmaster.pid");
		if (!Files.exists(pidFile)) {
			return Optional.empty();
		}
		List<String> lines = Files.readAllLines(pidFile);
		return lines.isEmpty() ? Optional.empty()
				: ProcessHandle.of(Long.parseLong(lines.get(0).trim())).filter(ProcessHandle::isAlive);
	}

	/** SIGKILL: no shutdown hook, no cleanup, as the OOM killer does it. */
	void kill() throws InterruptedException {
		this.process.destroyForcibly().waitFor();
	}

	@Override
	public void close() throws InterruptedException {
		// The database server stops when its watchdog sees the JVM gone: waiting for it
		// keeps its last writes out of the data directory the test deletes next.
		List<ProcessHandle> descendants = this.process.descendants().toList();
		this.process.destroyForcibly().waitFor();
		descendants.forEach((process) -> awaitExit(process, Duration.ofSeconds(30)));
	}

	/** Waits for a process to exit; the caller asserts on it. */
	static void awaitExit(ProcessHandle process, Duration timeout) {
		try {
			await().atMost(timeout).pollInterval(Duration.ofMillis(50)).until(() -> !process.isAlive());
		}
		catch (ConditionTimeoutException ex) {
			// Still alive: the caller's assertion says what that means.
		}
	}

	private static String java() {
		return ProcessHandle.current().info().command().orElse("java");
	}

	private static Path jar() throws IOException {
		try (Stream<Path> jars = Files.list(Path.of("target"))) {
			return jars.filter((path) -> path.getFileName().toString().matches("patchbay-.*\\.jar"))
				.findFirst()
				.orElseThrow(() -> new IllegalStateException("package the application first"))
				.toAbsolutePath();
		}
	}

}
