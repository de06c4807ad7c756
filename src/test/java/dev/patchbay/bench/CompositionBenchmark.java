package dev.patchbay.bench;

import java.io.IOException;
import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Supplier;

import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.util.FileSystemUtils;

import dev.patchbay.PatchbayApplication;
import dev.patchbay.composition.CompositionRequest;
import dev.patchbay.composition.PlanProbe;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.support.AnonymousMemory;
import dev.patchbay.support.ApiClient;

/**
 * Composition throughput and memory on this machine, against its floor measured in the
 * same run. Starts the service in-process (embedded PostgreSQL, a temporary data
 * directory), uploads synthetic Llama-shaped models through HTTP, then times each case
 * through the engine directly and through the HTTP streaming download. Run it with
 * {@code ./mvnw -Pbench verify} (see BENCHMARKS.md);
 * {@code BenchmarkSmokeIntegrationTests} runs it tiny in the suite.
 */
public final class CompositionBenchmark {

	/**
	 * What to run.
	 * @param modelBytes size of the throughput model
	 * @param scale divides Llama-7B widths (1 = real shapes)
	 * @param dtypes model dtypes to measure
	 * @param runs timed runs per case, after one warm-up
	 * @param memoryModelBytes size of the model for the memory run, 0 to skip it
	 */
	/**
	 * @param alternateChunkElements when not 0, each case also runs through the engine
	 * with chunks of this many elements, for comparison with the service's setting
	 */
	record Settings(long modelBytes, int scale, List<DType> dtypes, int runs, long memoryModelBytes,
			int alternateChunkElements) {
	}

	/**
	 * One measured case: median, min and max seconds, bytes written, and the floor's
	 * median.
	 */
	/**
	 * One case's timings; cpuSeconds is this JVM's CPU time per run (median), which on 2
	 * cores bounds the wall time from below at cpuSeconds / 2.
	 */
	record Result(String name, double medianSeconds, double minSeconds, double maxSeconds, long outputBytes,
			double floorSeconds, double cpuSeconds) {

		double throughputGiBs() {
			return this.outputBytes / this.medianSeconds / (1L << 30);
		}

		double ofFloor() {
			return this.floorSeconds / this.medianSeconds;
		}

	}

	private final ConfigurableApplicationContext context;

	private static final com.sun.management.OperatingSystemMXBean CPU = (com.sun.management.OperatingSystemMXBean) ManagementFactory
		.getOperatingSystemMXBean();

	private final ApiClient api;

	private final Path work;

	private final Settings settings;

	private final List<Result> results = new ArrayList<>();

	private final List<String> memory = new ArrayList<>();

	CompositionBenchmark(ConfigurableApplicationContext context, Path work, Settings settings) {
		this.context = context;
		this.api = new ApiClient(context.getEnvironment());
		this.work = work;
		this.settings = settings;
	}

	public static void main(String[] args) throws Exception {
		Map<String, String> options = new LinkedHashMap<>();
		for (String arg : args) {
			String[] pair = arg.replaceFirst("^--", "").split("=", 2);
			options.put(pair[0], (pair.length > 1) ? pair[1] : "true");
		}
		Settings settings = new Settings((long) (Double.parseDouble(options.getOrDefault("gib", "1")) * (1L << 30)),
				Integer.parseInt(options.getOrDefault("scale", "1")),
				Arrays.stream(options.getOrDefault("dtypes", "F32,BF16").split(","))
					.filter((name) -> !name.isBlank() && !name.equals("none"))
					.map(DType::valueOf)
					.toList(),
				Integer.parseInt(options.getOrDefault("runs", "5")),
				(long) (Double.parseDouble(options.getOrDefault("memory-gib", "4")) * (1L << 30)),
				Integer.parseInt(options.getOrDefault("alternate-chunk-elements", "0")));
		Path work = Files.createTempDirectory("patchbay-bench");
		try (ConfigurableApplicationContext context = SpringApplication.run(PatchbayApplication.class,
				"--server.port=0", "--patchbay.data-dir=" + work.resolve("data"), "--logging.level.root=WARN",
				"--patchbay.security.admin-key=" + ApiClient.TEST_ADMIN_KEY)) {
			CompositionBenchmark benchmark = new CompositionBenchmark(context, work, settings);
			benchmark.run();
			String report = benchmark.report();
			System.out.println(report);
			Path out = Path.of("target", "bench", "results.md");
			Files.createDirectories(out.getParent());
			Files.writeString(out, report);
		}
		finally {
			FileSystemUtils.deleteRecursively(work);
		}
	}

	List<Result> run() throws IOException {
		for (DType dtype : this.settings.dtypes()) {
			throughput(dtype);
		}
		if (this.settings.memoryModelBytes() > 0) {
			memory(this.settings.memoryModelBytes());
		}
		return this.results;
	}

	private void throughput(DType dtype) throws IOException {
		Path dir = Files.createDirectories(this.work.resolve(dtype.name()));
		List<TensorSpec> specs = SyntheticModels.llama(this.settings.modelBytes(), this.settings.scale(), dtype);
		Path baseFile = SyntheticModels.write(dir.resolve("base.safetensors"), specs, 0.1f, 1);
		String base = upload("/api/v1/models", Map.of("name", "bench-base-" + dtype), "weights", baseFile);
		List<Path> diffFiles = new ArrayList<>();
		List<String> diffs = new ArrayList<>();
		for (int i = 0; i < 3; i++) {
			diffFiles.add(SyntheticModels.write(dir.resolve("diff" + i + ".safetensors"), specs, 0.01f, 10 + i));
			diffs.add(upload("/api/v1/patches", Map.of("kind", "diff", "name", "bench-diff-" + dtype + "-" + i),
					"weights", diffFiles.get(i)));
		}
		String lora = uploadAdapter(dir, specs, false);
		String dora = uploadAdapter(dir, specs, true);
		Path floorOut = dir.resolve("floor.out");
		double oneInputFloor = median(() -> nanos(() -> Floor.run(baseFile, diffFiles.subList(0, 1), floorOut)));
		double threeInputFloor = median(() -> nanos(() -> Floor.run(baseFile, diffFiles, floorOut)));
		double baseOnlyFloor = median(() -> nanos(() -> Floor.run(baseFile, List.of(), floorOut)));
		Files.delete(floorOut);
		String label = dtype + " " + Files.size(baseFile) / (1 << 20) + " MiB";
		measure(label + ", sum of 1 diff", base, List.of(diffs.get(0)), "sum", oneInputFloor);
		measure(label + ", ties of 3 diffs (density 0.2)", base, diffs, "ties", threeInputFloor);
		measure(label + ", LoRA r=16", base, List.of(lora), "sum", baseOnlyFloor);
		measure(label + ", DoRA r=16", base, List.of(dora), "sum", baseOnlyFloor);
	}

	/**
	 * Times one case through the engine and through HTTP; each run uses a new weight (a
	 * new recipe).
	 */
	private void measure(String name, String base, List<String> patches, String method, double floorNanos) {
		int[] run = { 0 };
		long[] bytes = { 0 };
		Supplier<CompositionRequest> request = () -> new CompositionRequest(java.util.UUID.fromString(base), patches
			.stream()
			.map((patch) -> new CompositionRequest.Term(java.util.UUID.fromString(patch), 1.0 + run[0]++ * 1e-3))
			.toList(), method, method.equals("ties") ? 0.2 : null, null, null, null, false);
		Timing direct = times(() -> nanos(() -> bytes[0] = PlanProbe.compose(this.context, request.get(), true)));
		this.results.add(result(name + ", engine", direct, bytes[0], floorNanos));
		Timing compute = times(() -> nanos(() -> PlanProbe.compose(this.context, request.get(), false)));
		this.results.add(result(name + ", engine without fsync", compute, bytes[0], floorNanos));
		int chunk = this.settings.alternateChunkElements();
		if (chunk > 0) {
			Timing chunked = times(() -> nanos(() -> PlanProbe.compose(this.context, request.get(), true, chunk)));
			this.results
				.add(result(name + ", engine, chunks of " + chunk + " elements", chunked, bytes[0], floorNanos));
		}
		Timing http = times(() -> nanos(() -> download(request.get(), bytes[0], false)));
		this.results.add(result(name + ", HTTP stream", http, bytes[0], floorNanos));
		Timing curl = times(() -> nanos(() -> download(request.get(), bytes[0], true)));
		this.results.add(result(name + ", HTTP stream, curl client", curl, bytes[0], floorNanos));
	}

	/**
	 * Composes through HTTP and reads the streamed weights to the end, with the Java
	 * client in this JVM or with curl in its own process.
	 */
	private void download(CompositionRequest recipe, long expected, boolean curl) {
		String id = this.api.postJson("/api/v1/compositions", recipe).json().get("id").asString();
		String path = "/api/v1/compositions/" + id + "/weights";
		long[] read = { 0 };
		if (curl) {
			read[0] = this.api.downloadWithCurl(path);
		}
		else {
			this.api.download(path, (in) -> read[0] = drain(in));
		}
		if (read[0] != expected) {
			throw new IllegalStateException("HTTP download had " + read[0] + " bytes, engine wrote " + expected);
		}
		this.api.awaitReady(id, Duration.ofMinutes(10));
		this.api.delete("/api/v1/compositions/" + id);
	}

	private void memory(long modelBytes) throws IOException {
		Path dir = Files.createDirectories(this.work.resolve("memory"));
		List<TensorSpec> specs = SyntheticModels.llama(modelBytes, 1, DType.F32);
		Path baseFile = SyntheticModels.write(dir.resolve("base.safetensors"), specs, 0.1f, 21);
		Path diffFile = SyntheticModels.write(dir.resolve("diff.safetensors"), specs, 0.01f, 22);
		String base = upload("/api/v1/models", Map.of("name", "bench-memory-base"), "weights", baseFile);
		String diff = upload("/api/v1/patches", Map.of("kind", "diff", "name", "bench-memory-diff"), "weights",
				diffFile);
		System.gc();
		resetPeaks();
		long before = AnonymousMemory.current();
		long peakAnon;
		long started = System.nanoTime();
		try (AnonymousMemory sampler = AnonymousMemory.sample()) {
			String id = this.api
				.postJson("/api/v1/compositions",
						Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", diff))))
				.json()
				.get("id")
				.asString();
			this.api.download("/api/v1/compositions/" + id + "/weights", CompositionBenchmark::drain);
			peakAnon = sampler.peak();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
		double seconds = (System.nanoTime() - started) / 1e9;
		long heapPeak = ManagementFactory.getMemoryPoolMXBeans()
			.stream()
			.filter((pool) -> pool.getType() == MemoryType.HEAP)
			.mapToLong((pool) -> pool.getPeakUsage().getUsed())
			.sum();
		this.memory.add(String.format(Locale.ROOT,
				"| F32 %d MiB, sum of 1 diff, HTTP stream | %d MiB | %d MiB | %d MiB | %.1f s |",
				Files.size(baseFile) >> 20, before >> 20, peakAnon >> 20, heapPeak >> 20, seconds));
	}

	private static void resetPeaks() {
		ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
	}

	private String uploadAdapter(Path dir, List<TensorSpec> specs, boolean dora) throws IOException {
		Map<String, Path> files = SyntheticModels.adapter(dir, specs, 16, dora);
		ApiClient.Multipart body = ApiClient
			.multipart(Map.of("kind", "lora", "name", "bench-" + dir.getFileName() + "-" + (dora ? "dora" : "lora")));
		files.forEach(body::file);
		return idOf(this.api.postMultipart("/api/v1/patches", body).json());
	}

	private String upload(String path, Map<String, ?> metadata, String part, Path file) {
		return idOf(this.api.uploadStreaming(path, metadata, part, file));
	}

	private static String idOf(tools.jackson.databind.JsonNode created) {
		if (created.get("id") == null) {
			throw new IllegalStateException("upload refused: " + created);
		}
		return created.get("id").asString();
	}

	private static long drain(InputStream in) {
		byte[] buffer = new byte[1 << 20];
		long total = 0;
		try {
			int n;
			while ((n = in.read(buffer)) >= 0) {
				total += n;
			}
		}
		catch (IOException ex) {
			throw new java.io.UncheckedIOException(ex);
		}
		return total;
	}

	@FunctionalInterface
	private interface Timed {

		void run() throws IOException;

	}

	private static long nanos(Timed timed) {
		long start = System.nanoTime();
		try {
			timed.run();
		}
		catch (IOException ex) {
			throw new java.io.UncheckedIOException(ex);
		}
		return System.nanoTime() - start;
	}

	/** One warm-up, then the timed runs, sorted. */
	/** Wall times of the runs after a warm-up, sorted, and their median CPU time. */
	private record Timing(double[] sortedNanos, double cpuNanos) {
	}

	private Timing times(java.util.function.LongSupplier run) {
		run.getAsLong();
		double[] nanos = new double[this.settings.runs()];
		double[] cpu = new double[this.settings.runs()];
		for (int i = 0; i < nanos.length; i++) {
			long cpuBefore = CPU.getProcessCpuTime();
			nanos[i] = run.getAsLong();
			cpu[i] = CPU.getProcessCpuTime() - cpuBefore;
		}
		Arrays.sort(nanos);
		Arrays.sort(cpu);
		return new Timing(nanos, cpu[cpu.length / 2]);
	}

	private double median(java.util.function.LongSupplier run) {
		double[] sorted = times(run).sortedNanos();
		return sorted[sorted.length / 2];
	}

	private static Result result(String name, Timing timing, long bytes, double floorNanos) {
		double[] sortedNanos = timing.sortedNanos();
		return new Result(name, sortedNanos[sortedNanos.length / 2] / 1e9, sortedNanos[0] / 1e9,
				sortedNanos[sortedNanos.length - 1] / 1e9, bytes, floorNanos / 1e9, timing.cpuNanos() / 1e9);
	}

	String report() {
		StringBuilder report = new StringBuilder();
		report.append(String.format(Locale.ROOT, "cores: %d, max heap: %d MiB, runs per case: %d (after 1 warm-up)%n%n",
				Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20,
				this.settings.runs()));
		report.append("| case | median s | min s | max s | output GiB/s | floor s | ratio to floor | JVM CPU s |\n");
		report.append("|---|---|---|---|---|---|---|---|\n");
		for (Result result : this.results) {
			report.append(String.format(Locale.ROOT, "| %s | %.3f | %.3f | %.3f | %.2f | %.3f | %.2f | %.2f |%n",
					result.name(), result.medianSeconds(), result.minSeconds(), result.maxSeconds(),
					result.throughputGiBs(), result.floorSeconds(), result.ofFloor(), result.cpuSeconds()));
		}
		if (!this.memory.isEmpty()) {
			report
				.append("\n| memory run | RssAnon before | peak RssAnon | peak heap | time |\n|---|---|---|---|---|\n");
			this.memory.forEach((line) -> report.append(line).append('\n'));
		}
		return report.toString();
	}

}
