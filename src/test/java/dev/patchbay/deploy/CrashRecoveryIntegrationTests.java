package dev.patchbay.deploy;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

import dev.patchbay.support.Fixtures;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * kill -9 of the packaged application at chosen points, then a restart on the same data
 * directory: it must come up healthy on its own, with every acknowledged upload intact.
 */
class CrashRecoveryIntegrationTests {

	private static final Duration STARTUP = Duration.ofSeconds(90);

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final Path WEIGHTS = Fixtures.path("digits/base_v1.safetensors");

	@TempDir
	Path data;

	@Test
	void afterAKillOfTheJvmItsDatabaseStopsItsStagingIsSweptAndARestartServesTheUpload() throws Exception {
		String id;
		try (ChildService first = ChildService.start(this.data, STARTUP)) {
			id = upload(first, "survivor");
			try (Socket stalled = startUpload(first)) {
				Path part = awaitStagedPart();
				ProcessHandle postgres = ChildService.postmaster(this.data).orElseThrow();
				first.kill();
				ChildService.awaitExit(postgres, Duration.ofSeconds(20));
				assertThat(postgres.isAlive()).as("the embedded PostgreSQL dies with its JVM").isFalse();
				assertThat(part).exists();
			}
		}
		try (ChildService second = ChildService.start(this.data, STARTUP)) {
			assertServes(second, id);
			assertThat(stagedParts()).as("staging of the killed run is swept at start").isEmpty();
			long stopping = System.nanoTime();
			second.process().destroy();
			assertThat(second.process().waitFor()).isNotNull();
			Duration stopped = Duration.ofNanos(System.nanoTime() - stopping);
			assertThat(stopped).as("a SIGTERM stops the service within seconds").isLessThan(Duration.ofSeconds(15));
			assertThat(second.output()).doesNotContain("57P01", "Invocation of close method failed",
					"Could not stop postmaster");
			assertThat(ChildService.postmaster(this.data)).isEmpty();
		}
	}

	@Test
	void anUploadAcknowledgedJustBeforeTheJvmAndItsDatabaseAreKilledTogetherIsKept() throws Exception {
		List<String> ids = new ArrayList<>();
		try (ChildService first = ChildService.start(this.data, STARTUP)) {
			for (int i = 0; i < 5; i++) {
				ids.add(upload(first, "acknowledged-" + i));
			}
			// As a node failure does it: every process at once, the last 201 just sent.
			List<ProcessHandle> everything = new ArrayList<>(first.tree());
			ProcessHandle postgres = ChildService.postmaster(this.data).orElseThrow();
			everything.addAll(postgres.descendants().toList());
			everything.add(postgres);
			everything.forEach(ProcessHandle::destroyForcibly);
			for (ProcessHandle process : everything) {
				ChildService.awaitExit(process, Duration.ofSeconds(10));
			}
		}
		assertThat(this.data.resolve("pg/postmaster.pid")).as("a stale pid file is left").exists();
		try (ChildService second = ChildService.start(this.data, STARTUP)) {
			for (String id : ids) {
				assertServes(second, id);
			}
		}
	}

	@Test
	void aDatabaseServerOrphanedByAKilledJvmIsStoppedAtTheNextStart() throws Exception {
		String id;
		ProcessHandle orphan;
		try (ChildService first = ChildService.start(this.data, STARTUP)) {
			id = upload(first, "before-orphan");
			orphan = ChildService.postmaster(this.data).orElseThrow();
			// Without its watchdog the server outlives the JVM, as before this fix.
			first.tree().stream().filter((process) -> process.pid() != first.process().pid()).forEach((process) -> {
				process.destroyForcibly();
			});
			first.kill();
			assertThat(orphan.isAlive()).as("the server is orphaned").isTrue();
		}
		try (ChildService second = ChildService.start(this.data, STARTUP)) {
			assertThat(orphan.isAlive()).isFalse();
			assertThat(second.output()).contains("left running on");
			assertServes(second, id);
		}
	}

	private String upload(ChildService service, String name) throws IOException {
		String boundary = "crash-" + UUID.randomUUID();
		byte[] head = ("--" + boundary + "\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
				+ JSON.writeValueAsString(java.util.Map.of("name", name)) + "\r\n--" + boundary
				+ "\r\nContent-Disposition: form-data; name=\"weights\"; filename=\"model.safetensors\"\r\n"
				+ "Content-Type: application/octet-stream\r\n\r\n")
			.getBytes(StandardCharsets.UTF_8);
		byte[] tail = ("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8);
		HttpResponse<byte[]> response = service.send(HttpRequest.newBuilder(service.uri("/api/v1/models"))
			.header("Content-Type", "multipart/form-data; boundary=" + boundary)
			.POST(BodyPublishers.concat(BodyPublishers.ofByteArray(head), BodyPublishers.ofFile(WEIGHTS),
					BodyPublishers.ofByteArray(tail))));
		assertThat(response.statusCode()).as(new String(response.body())).isEqualTo(201);
		return JSON.readTree(response.body()).get("id").asString();
	}

	/** An upload whose client sends the start of a large part and then stalls. */
	private Socket startUpload(ChildService service) throws IOException {
		Socket socket = new Socket("127.0.0.1", service.port());
		String boundary = "stalled";
		String head = "--" + boundary
				+ "\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n{\"name\":\"x\"}\r\n--" + boundary
				+ "\r\nContent-Disposition: form-data; name=\"weights\"; filename=\"big.safetensors\"\r\n\r\n";
		OutputStream out = socket.getOutputStream();
		out.write(("POST /api/v1/models HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + ChildService.ADMIN_KEY
				+ "\r\nContent-Type: multipart/form-data; boundary=" + boundary + "\r\nContent-Length: " + (1L << 30)
				+ "\r\n\r\n" + head)
			.getBytes(StandardCharsets.US_ASCII));
		out.write(new byte[1 << 20]);
		out.flush();
		return socket;
	}

	private Path awaitStagedPart() {
		return await("a staged part under " + this.data.resolve("blobs/tmp")).atMost(Duration.ofSeconds(20))
			.pollInterval(Duration.ofMillis(50))
			.until(() -> stagedParts().stream().findFirst(), Optional::isPresent)
			.get();
	}

	/** Files staged by requests: everything but the staging areas' lock files. */
	private List<Path> stagedParts() throws IOException {
		try (Stream<Path> files = Files.walk(this.data.resolve("blobs/tmp"))) {
			return files.filter(Files::isRegularFile)
				.filter((file) -> !file.getFileName().toString().equals(".lock"))
				.toList();
		}
	}

	private static void assertServes(ChildService service, String id) throws IOException {
		HttpResponse<byte[]> weights = service
			.send(HttpRequest.newBuilder(service.uri("/api/v1/models/" + id + "/weights")));
		assertThat(weights.statusCode()).as("model %s after the restart", id).isEqualTo(200);
		assertThat(weights.body()).isEqualTo(Files.readAllBytes(WEIGHTS));
	}

}
