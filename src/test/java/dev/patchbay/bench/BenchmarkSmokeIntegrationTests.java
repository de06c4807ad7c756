package dev.patchbay.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.context.ConfigurableApplicationContext;

import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.IntegrationTest;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Runs the benchmark harness tiny, so that it cannot rot: correctness only, never timing.
 * The harness itself fails a case whose downloads differ in size from run to run, whose
 * data section is not the base's size, or whose peer wrote another size.
 */
@IntegrationTest
class BenchmarkSmokeIntegrationTests {

	@Autowired
	ConfigurableApplicationContext context;

	@Autowired
	ApiClient api;

	@TempDir
	Path work;

	@Test
	void harnessMeasuresEveryCaseWithItsPeerAndFloors() throws Exception {
		Path peerOutputs = Files.createDirectories(this.work.resolve("peers"));
		Path scripts = Path.of("src/test/bench");
		CompositionBenchmark benchmark = new CompositionBenchmark(this.context, this.work,
				new CompositionBenchmark.Settings(4L << 20, 128, 1, CompositionBenchmark.CASES, 2L << 20, "python3",
						scripts, peerOutputs, List.of()));
		List<CompositionBenchmark.Result> results = benchmark.run();
		assertThat(results).extracting(CompositionBenchmark.Result::name)
			.satisfiesExactly((name) -> assertThat(name).contains("F32").contains("sum of 1 diff"),
					(name) -> assertThat(name).contains("BF16").contains("LoRA r=16"),
					(name) -> assertThat(name).contains("F32").contains("ties of 3 diffs"),
					(name) -> assertThat(name).contains("F32").contains("DoRA r=16"));
		assertThat(results).allSatisfy((result) -> {
			assertThat(result.bytes()).isGreaterThan(2L << 20);
			assertThat(result.patchbay().min()).isPositive();
			assertThat(result.floor().min()).isPositive();
		});
		// Where Python has the modules, every peer ran and wrote its file (the harness
		// checked its size); where it has not, the case is measured without its peer.
		Peers peers = Peers.find("python3", scripts);
		assertThat(results.get(0).peer() != null).isEqualTo(peers.has("numpy"));
		assertThat(results.subList(1, 4)).allSatisfy((result) -> {
			assertThat(result.peer() != null).isEqualTo(peers.has("torch"));
			if (result.peer() != null) {
				assertThat(result.peer().min()).isPositive();
				assertThat(result.ratio().median()).isPositive();
			}
		});
		try (var written = Files.list(peerOutputs)) {
			assertThat(written.count()).isEqualTo((peers.has("numpy") ? 1 : 0) + (peers.has("torch") ? 3 : 0));
		}
		assertThat(benchmark.downloads()).singleElement().satisfies((download) -> {
			assertThat(download.bytes()).isEqualTo(results.get(0).bytes());
			assertThat(download.floor().min()).isPositive();
		});
		assertThat(benchmark.memoryRuns()).singleElement()
			.satisfies((run) -> assertThat(run.peak()).isGreaterThanOrEqualTo(run.before()));
		assertThat(benchmark.report()).contains("Patchbay ÷ peer")
			.contains("loopback floor")
			.contains("peak RssAnon")
			.contains((peers.has("torch")) ? "peer_lora.py ties" : "peers");
	}

	@Test
	void theLoopbackFloorServesTheFileAsIs() throws Exception {
		byte[] content = new byte[3 << 20];
		new Random(7).nextBytes(content);
		Path file = Files.write(this.work.resolve("served.bin"), content);
		try (LoopbackFloor floor = LoopbackFloor.serve(file)) {
			for (int i = 0; i < 2; i++) {
				HttpResponse<byte[]> response = HttpClient.newHttpClient()
					.send(HttpRequest.newBuilder(URI.create(floor.url())).build(),
							HttpResponse.BodyHandlers.ofByteArray());
				assertThat(response.statusCode()).isEqualTo(200);
				assertThat(response.body()).isEqualTo(content);
			}
		}
	}

	@Test
	void theFloorComputesWhatASumCompositionComputes() throws Exception {
		List<TensorSpec> specs = SyntheticModels.llama(2L << 20, 128, DType.F32);
		Path base = SyntheticModels.write(this.work.resolve("base.safetensors"), specs, 0.1f, 1);
		Path diff = SyntheticModels.write(this.work.resolve("diff.safetensors"), specs, 0.01f, 2);
		Path floor = this.work.resolve("floor.out");
		Floor.run(base, List.of(diff), 0.5f, floor);
		String model = this.api.uploadStreaming("/api/v1/models", Map.of("name", "smoke-floor-base"), "weights", base)
			.get("id")
			.asString();
		String patch = this.api
			.uploadStreaming("/api/v1/patches", Map.of("kind", "diff", "name", "smoke-floor-diff"), "weights", diff)
			.get("id")
			.asString();
		String id = this.api
			.postJson("/api/v1/compositions",
					Map.of("baseModelId", model, "terms", List.of(Map.of("patchId", patch, "weight", 0.5))))
			.json()
			.get("id")
			.asString();
		byte[] composed = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		byte[] input = Files.readAllBytes(base);
		int dataStart = 8 + (int) ByteBuffer.wrap(input, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
		int composedStart = 8 + (int) ByteBuffer.wrap(composed, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
		// The floor treats the whole file as floats; compare the data sections, which
		// line up.
		byte[] floorBytes = Files.readAllBytes(floor);
		assertThat(Arrays.copyOfRange(composed, composedStart, composed.length))
			.isEqualTo(Arrays.copyOfRange(floorBytes, dataStart, floorBytes.length));
	}

}
