package dev.patchbay.deploy;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.json.JsonMapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * No Docker engine runs here, so the Dockerfile is read as data and what it builds is
 * reproduced: the packaged jar is split into layers the way the build stage does it, and
 * started the way the image's entrypoint starts it, with the image's environment, until
 * the image's own HEALTHCHECK command passes.
 */
class DockerfileIntegrationTests {

	private static final Dockerfile DOCKERFILE = Dockerfile.parse(Path.of("Dockerfile"));

	@TempDir
	Path temp;

	@Test
	void theDefaultImageRunsTheCpuStageAsANonRootUserWithDjlOffline() {
		Dockerfile.Stage image = DOCKERFILE.stages().get(DOCKERFILE.stages().size() - 1);
		assertThat(image.name()).isEqualTo("cpu");
		assertThat(DOCKERFILE.last("cpu", "USER")).isEqualTo("patchbay");
		assertThat(DOCKERFILE.stage("base").from()).matches("eclipse-temurin:(21|25)-jre");
		assertThat(DOCKERFILE.env("cpu")).containsEntry("PATCHBAY_DATA_DIR", "/data");
		assertThat(DOCKERFILE.env("cpu").get("JAVA_TOOL_OPTIONS")).contains("-Dai.djl.offline=true");
		assertThat(DOCKERFILE.values("cpu", "VOLUME")).containsExactly("/data");
		assertThat(DOCKERFILE.last("cpu", "HEALTHCHECK")).contains("/actuator/health/liveness");
	}

	@Test
	void theGpuStageInstallsLibtorchCu128AndPointsDjlAtIt() {
		Map<String, String> env = DOCKERFILE.env("gpu");
		assertThat(env).containsEntry("PYTORCH_VERSION", "2.7.1")
			.containsEntry("PYTORCH_FLAVOR", "cu128")
			.containsEntry("PYTORCH_LIBRARY_PATH", "/opt/libtorch/lib")
			.containsEntry("PATCHBAY_ENGINE_DEVICE", "gpu");
		assertThat(DOCKERFILE.last("gpu", "ARG")).contains("/cu128/", "2.7.1%2Bcu128.zip");
		assertThat(DOCKERFILE.last("gpu", "USER")).isEqualTo("patchbay");
	}

	@Test
	void theLayeredJarStartsWithTheImageEnvironmentAndPassesTheHealthcheck() throws Exception {
		Path jar;
		try (Stream<Path> jars = Files.list(Path.of("target"))) {
			jar = jars.filter((path) -> path.getFileName().toString().matches("patchbay-.*\\.jar"))
				.findFirst()
				.orElseThrow();
		}
		Path layers = this.temp.resolve("layers");
		run(List.of(java(), "-Djarmode=tools", "-jar", jar.toString(), "extract", "--layers", "--launcher",
				"--destination", layers.toString()));
		// The runtime stage copies these layers, in this order, into one directory.
		Path app = Files.createDirectories(this.temp.resolve("app"));
		for (String layer : List.of("dependencies", "spring-boot-loader", "snapshot-dependencies", "application")) {
			run(List.of("cp", "-a", layers.resolve(layer) + "/.", app.toString()));
		}

		int port;
		try (ServerSocket socket = new ServerSocket(0)) {
			port = socket.getLocalPort();
		}
		List<String> entrypoint = new ArrayList<>(DOCKERFILE.execForm("cpu", "ENTRYPOINT"));
		entrypoint.set(0, java());
		ProcessBuilder builder = new ProcessBuilder(entrypoint).directory(app.toFile()).redirectErrorStream(true);
		Path data = this.temp.resolve("data");
		// /data is the image's volume; here it is a temporary directory.
		DOCKERFILE.env("cpu")
			.forEach((name, value) -> builder.environment().put(name, value.replace("/data", data.toString())));
		builder.environment().put("SERVER_PORT", Integer.toString(port));
		builder.environment().put("PATCHBAY_SECURITY_ADMIN_KEY", "docker-test-admin-key");
		Path log = this.temp.resolve("app.log");
		Process process = builder.redirectOutput(log.toFile()).start();
		try {
			List<String> healthcheck = DOCKERFILE.execForm("cpu", "HEALTHCHECK");
			assertThat(healthcheck.subList(0, 2)).containsExactly("bash", "-c");
			String probe = healthcheck.get(2).replace("127.0.0.1/8080", "127.0.0.1/" + port);
			await("the healthcheck passing or the service exiting").atMost(Duration.ofSeconds(60))
				.pollInterval(Duration.ofMillis(500))
				.until(() -> !process.isAlive() || new ProcessBuilder("bash", "-c", probe).start().waitFor() == 0);
			assertThat(process.isAlive()).as(Files.readString(log)).isTrue();
			assertThat(Files.readString(log)).contains("Tensor engine: PyTorch 2.7.1 on cpu()")
				.doesNotContain("Downloading");
			HttpResponse<String> keys = HttpClient.newHttpClient()
				.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/api/v1/keys"))
					.header("Authorization", "Bearer docker-test-admin-key")
					.build(), HttpResponse.BodyHandlers.ofString());
			assertThat(keys.statusCode()).as("the admin key from PATCHBAY_SECURITY_ADMIN_KEY").isEqualTo(200);
		}
		finally {
			process.destroy();
			process.waitFor(30, TimeUnit.SECONDS);
		}
	}

	private static String java() {
		return ProcessHandle.current().info().command().orElse("java");
	}

	private static void run(List<String> command) throws IOException, InterruptedException {
		Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
		String output = new String(process.getInputStream().readAllBytes());
		assertThat(process.waitFor()).as(String.join(" ", command) + "\n" + output).isZero();
	}

	/** The instructions of a Dockerfile, by stage. */
	record Dockerfile(List<Stage> stages) {

		private static final Pattern FROM = Pattern.compile("FROM\\s+(\\S+)(?:\\s+AS\\s+(\\S+))?",
				Pattern.CASE_INSENSITIVE);

		private static final Pattern ENV_PAIR = Pattern.compile("(\\w+)=(\"[^\"]*\"|\\S+)");

		record Stage(String name, String from, List<String[]> instructions) {
		}

		static Dockerfile parse(Path file) {
			try {
				String joined = Files.readString(file).replaceAll("\\\\\\n", " ");
				List<Stage> stages = new ArrayList<>();
				for (String line : joined.lines().map(String::strip).toList()) {
					if (line.isEmpty() || line.startsWith("#")) {
						continue;
					}
					Matcher from = FROM.matcher(line);
					if (from.matches()) {
						stages.add(new Stage(from.group(2), from.group(1), new ArrayList<>()));
					}
					else {
						String[] parts = line.split("\\s+", 2);
						stages.get(stages.size() - 1).instructions().add(new String[] { parts[0], parts[1] });
					}
				}
				return new Dockerfile(stages);
			}
			catch (IOException ex) {
				throw new IllegalStateException(ex);
			}
		}

		Stage stage(String name) {
			return this.stages.stream().filter((stage) -> name.equals(stage.name())).findFirst().orElseThrow();
		}

		/** Every argument of an instruction from the first ancestor stage to this one. */
		List<String> values(String stageName, String instruction) {
			List<String> values = new ArrayList<>();
			for (Stage stage = stage(stageName); stage != null; stage = parent(stage)) {
				List<String> own = stage.instructions()
					.stream()
					.filter((line) -> line[0].equals(instruction))
					.map((line) -> line[1])
					.toList();
				values.addAll(0, own);
			}
			return values;
		}

		/** The instruction's arguments that take effect in the stage: the last ones. */
		String last(String stageName, String instruction) {
			List<String> values = values(stageName, instruction);
			return values.get(values.size() - 1);
		}

		Map<String, String> env(String stageName) {
			Map<String, String> env = new LinkedHashMap<>();
			for (String line : values(stageName, "ENV")) {
				Matcher pair = ENV_PAIR.matcher(line);
				while (pair.find()) {
					env.put(pair.group(1), pair.group(2).replaceAll("^\"|\"$", ""));
				}
			}
			return env;
		}

		/** An exec-form instruction's arguments, e.g. ENTRYPOINT ["java", …]. */
		List<String> execForm(String stageName, String instruction) {
			String last = last(stageName, instruction);
			List<String> list = new ArrayList<>();
			JsonMapper.builder()
				.build()
				.readTree(last.substring(last.indexOf('[')))
				.forEach((node) -> list.add(node.asString()));
			return list;
		}

		private Stage parent(Stage stage) {
			return this.stages.stream().filter((other) -> stage.from().equals(other.name())).findFirst().orElse(null);
		}

	}

}
