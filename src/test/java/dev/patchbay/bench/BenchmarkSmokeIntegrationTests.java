package dev.patchbay.bench;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

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
	void harnessMeasuresEveryCaseThroughEngineAndHttp() throws Exception {
		CompositionBenchmark benchmark = new CompositionBenchmark(this.context, this.work,
				new CompositionBenchmark.Settings(6L << 20, 16, List.of(DType.F32, DType.BF16), 1, 0, 4096));
		List<CompositionBenchmark.Result> results = benchmark.run();
		// dtypes × cases × (engine, engine without fsync, engine with other chunks, HTTP
		// with the Java client, HTTP with curl)
		assertThat(results).hasSize(2 * 4 * 5);
		assertThat(results).allSatisfy((result) -> {
			assertThat(result.outputBytes()).isGreaterThan(6L << 20 >> 1);
			assertThat(result.medianSeconds()).isPositive();
			assertThat(result.floorSeconds()).isPositive();
		});
		assertThat(benchmark.report()).contains("ties of 3 diffs").contains("HTTP stream, curl client");
	}

	@Test
	void theFloorComputesWhatASumCompositionComputes() throws Exception {
		List<TensorSpec> specs = SyntheticModels.llama(2L << 20, 32, DType.F32);
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
