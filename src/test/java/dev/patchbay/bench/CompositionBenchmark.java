package dev.patchbay.bench;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.DoubleFunction;
import java.util.stream.Collectors;

import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.util.FileSystemUtils;

import dev.patchbay.PatchbayApplication;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.support.AnonymousMemory;
import dev.patchbay.support.ApiClient;

/**
 * Composition time on this machine against Python peers and floors, in the same run.
 * Starts the service in-process (embedded PostgreSQL, a temporary data directory),
 * uploads synthetic Llama-shaped models through HTTP, then runs each case run by run: a
 * new recipe is posted and its weights downloaded with curl, then the case's peer runs on
 * the same input files, then the composition floor. Each run's ratio pairs the two
 * measured moments after each other. Run it with {@code ./mvnw -Pbench verify} (see
 * BENCHMARKS.md); {@code BenchmarkSmokeIntegrationTests} runs it tiny in the suite.
 */
public final class CompositionBenchmark {

	/** Every case, in the order they run. */
	static final Set<String> CASES = Set.of("sum", "lora", "ties", "dora", "cached");

	private static final Path DEV_NULL = Path.of("/dev/null");

	private static final Duration READY_TIMEOUT = Duration.ofMinutes(10);

	private static final com.sun.management.OperatingSystemMXBean CPU = (com.sun.management.OperatingSystemMXBean) ManagementFactory
		.getOperatingSystemMXBean();

	private static final HttpClient HTTP = HttpClient.newHttpClient();

	/**
	 * What to run.
	 *
	 * @param modelBytes size of the F32 model; the BF16 model has the same tensors
	 * @param hidden width of the Llama-shaped layers
	 * @param runs timed runs per case, after one warm-up
	 * @param cases which of {@link #CASES} to run
	 * @param memoryModelBytes size of the model for the memory run, 0 to skip it
	 * @param python the interpreter that runs the peers
	 * @param peerScripts the directory of the peer scripts
	 * @param peerOutputs where peers write their output, one file per case, for checking
	 * its size; null writes to /dev/null
	 * @param springProperties properties the service was started with, for the report
	 */
	record Settings(long modelBytes, int hidden, int runs, Set<String> cases, long memoryModelBytes, String python,
			Path peerScripts, Path peerOutputs, List<String> springProperties) {
	}

	/** Median, min and max of some runs. */
	record Stats(double median, double min, double max) {

		static Stats of(double[] values) {
			double[] sorted = values.clone();
			Arrays.sort(sorted);
			int n = sorted.length;
			double median = (n % 2 == 1) ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
			return new Stats(median, sorted[0], sorted[n - 1]);
		}

		String format(String number) {
			return String.format(Locale.ROOT, number + " [" + number + "–" + number + "]", this.median, this.min,
					this.max);
		}

	}

	/**
	 * One composition case.
	 *
	 * @param patchbay seconds from the POST to the end of the download
	 * @param peer the peer's own seconds, null where it was skipped
	 * @param peerProcess the peer's whole process, with interpreter start and imports
	 * @param ratio Patchbay ÷ peer, run by run
	 * @param floor the composition floor's seconds
	 * @param ofFloor floor ÷ Patchbay, run by run
	 * @param bytes bytes downloaded per run
	 * @param cpuSeconds this JVM's CPU time per run until the composition was ready
	 * (median)
	 */
	record Result(String name, String peerName, Stats patchbay, Stats peer, Stats peerProcess, Stats ratio, Stats floor,
			Stats ofFloor, long bytes, double cpuSeconds) {
	}

	/**
	 * Cached downloads against the loopback floor.
	 *
	 * @param ofFloor floor ÷ Patchbay, run by run
	 */
	record Download(String name, Stats patchbay, Stats floor, Stats ofFloor, long bytes) {
	}

	/** The memory run. */
	record Memory(String name, long before, long peak, long heapPeak, double seconds) {
	}

	/** One case to run: its recipe, its peer and its floor's inputs. */
	private record Case(String key, String name, Path base, Map<String, Object> recipe, List<Path> floorInputs,
			String peerName, String peerModule, String peerScript, DoubleFunction<List<String>> peerArguments) {
	}

	private final ApiClient api;

	private final String serviceUrl;

	private final String authorization;

	private final Path work;

	private final Settings settings;

	private final Peers peers;

	/** curl's version line, or null where there is no curl. */
	private final String curl;

	private final List<Result> results = new ArrayList<>();

	private final List<Download> downloads = new ArrayList<>();

	private final List<Memory> memory = new ArrayList<>();

	private final List<String> models = new ArrayList<>();

	private int recipes;

	CompositionBenchmark(ConfigurableApplicationContext context, Path work, Settings settings) {
		this.api = new ApiClient(context.getEnvironment());
		this.serviceUrl = "http://127.0.0.1:" + context.getEnvironment().getRequiredProperty("local.server.port");
		this.authorization = "Bearer " + context.getEnvironment().getRequiredProperty("patchbay.security.admin-key");
		this.work = work;
		this.settings = settings;
		this.peers = Peers.find(settings.python(), settings.peerScripts());
		this.curl = curlVersion();
	}

	public static void main(String[] args) throws Exception {
		Map<String, String> options = new LinkedHashMap<>();
		List<String> spring = new ArrayList<>();
		for (String arg : args) {
			String[] pair = arg.replaceFirst("^--", "").split("=", 2);
			if (pair[0].startsWith("patchbay.") || pair[0].startsWith("spring.")) {
				// The service's own properties, e.g. --patchbay.engine.threads=2.
				spring.add(arg.replaceFirst("^--", ""));
			}
			else {
				options.put(pair[0], (pair.length > 1) ? pair[1] : "true");
			}
		}
		Set<String> cases = new LinkedHashSet<>(
				Arrays.asList(options.getOrDefault("cases", String.join(",", "sum,lora,ties,dora,cached")).split(",")));
		cases.removeIf((name) -> name.isBlank() || name.equals("none"));
		if (!CASES.containsAll(cases)) {
			throw new IllegalArgumentException("--cases takes a list of " + CASES + ", not " + cases);
		}
		Settings settings = new Settings(gib(options.getOrDefault("gib", "0.88")),
				Integer.parseInt(options.getOrDefault("hidden", "2048")),
				Integer.parseInt(options.getOrDefault("runs", "5")), cases,
				gib(options.getOrDefault("memory-gib", "4")), options.getOrDefault("python", "python3"),
				Path.of(options.getOrDefault("peers", "src/test/bench")), null, spring);
		Path work = Files.createTempDirectory("patchbay-bench");
		List<String> springArgs = new ArrayList<>(
				List.of("--server.port=0", "--patchbay.data-dir=" + work.resolve("data"), "--logging.level.root=WARN",
						"--patchbay.security.admin-key=" + ApiClient.TEST_ADMIN_KEY));
		spring.forEach((property) -> springArgs.add("--" + property));
		try (ConfigurableApplicationContext context = SpringApplication.run(PatchbayApplication.class,
				springArgs.toArray(String[]::new))) {
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

	private static long gib(String value) {
		return (long) (Double.parseDouble(value) * (1L << 30));
	}

	List<Result> run() throws IOException {
		Set<String> cases = this.settings.cases();
		Map<String, Case> planned = new LinkedHashMap<>();
		List<TensorSpec> f32 = SyntheticModels.llama(this.settings.modelBytes(), this.settings.hidden(), DType.F32);
		if (cases.contains("sum") || cases.contains("ties") || cases.contains("dora") || cases.contains("cached")) {
			f32Cases(f32).forEach((c) -> planned.put(c.key(), c));
		}
		if (cases.contains("lora")) {
			planned.put("lora", bf16Lora(SyntheticModels.as(f32, DType.BF16)));
		}
		for (String key : List.of("sum", "lora", "ties", "dora")) {
			if (cases.contains(key)) {
				measure(planned.get(key));
			}
		}
		if (cases.contains("cached")) {
			cached(planned.get("sum"));
		}
		if (this.settings.memoryModelBytes() > 0) {
			memory(this.settings.memoryModelBytes());
		}
		return this.results;
	}

	List<Download> downloads() {
		return this.downloads;
	}

	List<Memory> memoryRuns() {
		return this.memory;
	}

	private List<Case> f32Cases(List<TensorSpec> specs) throws IOException {
		Path dir = Files.createDirectories(this.work.resolve("F32"));
		Path base = SyntheticModels.write(dir.resolve("base.safetensors"), specs, 0.1f, 1);
		String baseId = upload("/api/v1/models", Map.of("name", "bench-base-F32"), base);
		int diffCount = this.settings.cases().contains("ties") ? 3 : 1;
		List<Path> diffs = new ArrayList<>();
		List<String> diffIds = new ArrayList<>();
		for (int i = 0; i < diffCount; i++) {
			diffs.add(SyntheticModels.write(dir.resolve("diff" + i + ".safetensors"), specs, 0.01f, 10 + i));
			diffIds.add(upload("/api/v1/patches", Map.of("kind", "diff", "name", "bench-diff-F32-" + i), diffs.get(i)));
		}
		String label = label(DType.F32, base);
		this.models.add(label);
		List<Case> cases = new ArrayList<>();
		cases.add(new Case("sum", label + ", sum of 1 diff", base, recipe(baseId, diffIds.subList(0, 1), "sum"),
				diffs.subList(0, 1), "numpy (peer_merge.py numpy)", "numpy", "peer_merge.py",
				(weight) -> List.of("numpy", base.toString(), diffs.get(0).toString(), number(weight))));
		if (diffCount == 3) {
			String files = diffs.stream().map(Path::toString).collect(Collectors.joining(","));
			cases.add(new Case("ties", label + ", ties of 3 diffs (density 0.2)", base, recipe(baseId, diffIds, "ties"),
					diffs, "torch (peer_lora.py ties)", "torch", "peer_lora.py",
					(weight) -> List.of("ties", base.toString(), files,
							String.join(",", number(weight), number(weight), number(weight)), "0.2")));
		}
		if (this.settings.cases().contains("dora")) {
			Path adapter = adapter(dir, specs, true);
			String doraId = uploadAdapter(adapter, "bench-dora-F32");
			cases.add(new Case("dora", label + ", DoRA r=16 on all projections", base,
					recipe(baseId, List.of(doraId), "sum"), List.of(), "torch (peer_dora.py, PEFT's DoRA merge)",
					"torch", "peer_dora.py", (weight) -> List.of(base.toString(), adapter.toString())));
		}
		return cases;
	}

	private Case bf16Lora(List<TensorSpec> specs) throws IOException {
		Path dir = Files.createDirectories(this.work.resolve("BF16"));
		Path base = SyntheticModels.write(dir.resolve("base.safetensors"), specs, 0.1f, 2);
		String baseId = upload("/api/v1/models", Map.of("name", "bench-base-BF16"), base);
		Path adapter = adapter(dir, specs, false);
		String loraId = uploadAdapter(adapter, "bench-lora-BF16");
		String label = label(DType.BF16, base);
		this.models.add(label);
		return new Case("lora", label + ", LoRA r=16 on all projections", base, recipe(baseId, List.of(loraId), "sum"),
				List.of(), "torch (peer_lora.py lora, PEFT's merge math)", "torch", "peer_lora.py",
				(weight) -> List.of("lora", base.toString(), adapter.toString()));
	}

	private static String label(DType dtype, Path file) throws IOException {
		return dtype + " " + (Files.size(file) >> 20) + " MiB";
	}

	/** A recipe whose terms all take the weight put in at each run. */
	private static Map<String, Object> recipe(String base, List<String> patches, String method) {
		Map<String, Object> recipe = new LinkedHashMap<>();
		recipe.put("baseModelId", base);
		recipe.put("terms", patches);
		recipe.put("method", method);
		if (method.equals("ties")) {
			recipe.put("density", 0.2);
		}
		return recipe;
	}

	@SuppressWarnings("unchecked")
	private static Map<String, Object> withWeight(Map<String, Object> recipe, double weight) {
		Map<String, Object> request = new LinkedHashMap<>(recipe);
		request.put("terms",
				((List<String>) recipe.get("terms")).stream()
					.map((patch) -> Map.of("patchId", patch, "weight", weight))
					.toList());
		return request;
	}

	/**
	 * A weight no recipe has had, so that each run is a new recipe and nothing is cached.
	 */
	private double nextWeight() {
		return 1.0 + ++this.recipes * 1e-3;
	}

	private static String number(double value) {
		return Double.toString(value);
	}

	/**
	 * One warm-up, then the paired runs: Patchbay and the peer, each on the same files
	 * with the same weight, then the floor. Every other run the peer goes first, so that
	 * neither side always runs in what the other leaves behind (dirty pages, a warm
	 * cache).
	 */
	private void measure(Case c) throws IOException {
		int runs = this.settings.runs();
		double[] patchbay = new double[runs];
		double[] cpu = new double[runs];
		double[] peer = new double[runs];
		double[] peerProcess = new double[runs];
		double[] floor = new double[runs];
		boolean withPeer = this.peers.has(c.peerModule());
		long expectedData = dataBytes(c.base());
		long[] bytes = { -1 };
		for (int run = -1; run < runs; run++) {
			double weight = nextWeight();
			Peers.Timing peerTiming = null;
			boolean peerFirst = run % 2 != 0;
			if (withPeer && peerFirst) {
				peerTiming = peer(c, weight, expectedData);
			}
			long cpuBefore = CPU.getProcessCpuTime();
			double seconds = patchbay(c, weight, expectedData, bytes);
			double cpuSeconds = (CPU.getProcessCpuTime() - cpuBefore) / 1e9;
			if (withPeer && !peerFirst) {
				peerTiming = peer(c, weight, expectedData);
			}
			double floorSeconds = Floor.run(c.base(), c.floorInputs(), (float) weight, DEV_NULL) / 1e9;
			progress(c.name(), run,
					String.format(
							Locale.ROOT, "Patchbay %.3f s, peer %s, floor %.3f s", seconds, (peerTiming != null)
									? String.format(Locale.ROOT, "%.3f s", peerTiming.seconds()) : "skipped",
							floorSeconds));
			if (run >= 0) {
				patchbay[run] = seconds;
				cpu[run] = cpuSeconds;
				floor[run] = floorSeconds;
				if (peerTiming != null) {
					peer[run] = peerTiming.seconds();
					peerProcess[run] = peerTiming.processSeconds();
				}
			}
		}
		this.results.add(new Result(c.name(), withPeer ? c.peerName() : null, Stats.of(patchbay),
				withPeer ? Stats.of(peer) : null, withPeer ? Stats.of(peerProcess) : null,
				withPeer ? Stats.of(quotients(patchbay, peer)) : null, Stats.of(floor),
				Stats.of(quotients(floor, patchbay)), bytes[0], Stats.of(cpu).median()));
	}

	/**
	 * Posts the recipe with this weight and downloads its weights; returns the seconds
	 * from the POST to the end of the download. Waits until the composition is ready,
	 * checks its size (the first run sets {@code bytes[0]}) and deletes it, untimed.
	 */
	private double patchbay(Case c, double weight, long expectedData, long[] bytes) {
		long start = System.nanoTime();
		String id = post(withWeight(c.recipe(), weight));
		long read = download(this.serviceUrl + weightsPath(id), true);
		double seconds = (System.nanoTime() - start) / 1e9;
		this.api.awaitReady(id, READY_TIMEOUT);
		if (bytes[0] < 0) {
			check(c.name() + ": Patchbay's data section", servedDataBytes(id, read), expectedData);
			bytes[0] = read;
		}
		check(c.name() + ": bytes downloaded", read, bytes[0]);
		this.api.delete("/api/v1/compositions/" + id);
		return seconds;
	}

	private Peers.Timing peer(Case c, double weight, long expectedData) throws IOException {
		Path out = (this.settings.peerOutputs() != null) ? this.settings.peerOutputs().resolve(c.key() + ".safetensors")
				: DEV_NULL;
		List<String> arguments = new ArrayList<>(c.peerArguments().apply(weight));
		arguments.add(out.toString());
		Peers.Timing timing = this.peers.run(c.peerScript(), arguments);
		if (!out.equals(DEV_NULL)) {
			check(c.name() + ": the peer's data section", dataBytes(out), expectedData);
		}
		return timing;
	}

	/** Downloads with {@link #download}, checks the size, and returns the seconds. */
	private double timedDownload(String url, boolean authorized, long size) {
		long start = System.nanoTime();
		check(url, download(url, authorized), size);
		return (System.nanoTime() - start) / 1e9;
	}

	/** One line per run, so that a long run shows where it is. */
	private void progress(String name, int run, String timings) {
		System.out.println(name + ", " + ((run < 0) ? "warm-up" : "run " + (run + 1) + "/" + this.settings.runs())
				+ ": " + timings);
	}

	/** Run by run: the paired ratios. */
	private static double[] quotients(double[] dividends, double[] divisors) {
		double[] quotients = new double[dividends.length];
		for (int i = 0; i < quotients.length; i++) {
			quotients[i] = dividends[i] / divisors[i];
		}
		return quotients;
	}

	/**
	 * A GET of an already computed composition against the loopback floor serving the
	 * same bytes, both read by the same client, paired run by run.
	 */
	private void cached(Case c) {
		String id = post(withWeight(c.recipe(), nextWeight()));
		this.api.awaitReady(id, READY_TIMEOUT);
		Path copy = this.work.resolve("cached.safetensors");
		this.api.download(weightsPath(id), (in) -> {
			try {
				Files.copy(in, copy, StandardCopyOption.REPLACE_EXISTING);
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
		});
		int runs = this.settings.runs();
		double[] patchbay = new double[runs];
		double[] floor = new double[runs];
		try (LoopbackFloor loopback = LoopbackFloor.serve(copy)) {
			long size = Files.size(copy);
			for (int run = -1; run < runs; run++) {
				boolean floorFirst = run % 2 != 0;
				double floorSeconds = floorFirst ? timedDownload(loopback.url(), false, size) : 0;
				double seconds = timedDownload(this.serviceUrl + weightsPath(id), true, size);
				if (!floorFirst) {
					floorSeconds = timedDownload(loopback.url(), false, size);
				}
				progress("cached download", run,
						String.format(Locale.ROOT, "Patchbay %.3f s, loopback floor %.3f s", seconds, floorSeconds));
				if (run >= 0) {
					patchbay[run] = seconds;
					floor[run] = floorSeconds;
				}
			}
			this.downloads.add(new Download(c.name() + ", cached result", Stats.of(patchbay), Stats.of(floor),
					Stats.of(quotients(floor, patchbay)), size));
			Files.delete(copy);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		this.api.delete("/api/v1/compositions/" + id);
	}

	private void memory(long modelBytes) throws IOException {
		Path dir = Files.createDirectories(this.work.resolve("memory"));
		List<TensorSpec> specs = SyntheticModels.llama(modelBytes, this.settings.hidden(), DType.F32);
		Path baseFile = SyntheticModels.write(dir.resolve("base.safetensors"), specs, 0.1f, 21);
		Path diffFile = SyntheticModels.write(dir.resolve("diff.safetensors"), specs, 0.01f, 22);
		String base = upload("/api/v1/models", Map.of("name", "bench-memory-base"), baseFile);
		String diff = upload("/api/v1/patches", Map.of("kind", "diff", "name", "bench-memory-diff"), diffFile);
		System.gc();
		ManagementFactory.getMemoryPoolMXBeans().forEach(MemoryPoolMXBean::resetPeakUsage);
		long before = AnonymousMemory.current();
		long peakAnon;
		long started = System.nanoTime();
		String id;
		try (AnonymousMemory sampler = AnonymousMemory.sample()) {
			id = post(withWeight(recipe(base, List.of(diff), "sum"), nextWeight()));
			download(this.serviceUrl + weightsPath(id), true);
			this.api.awaitReady(id, READY_TIMEOUT);
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
		this.api.delete("/api/v1/compositions/" + id);
		this.memory.add(new Memory("F32 " + (Files.size(baseFile) >> 20) + " MiB, sum of 1 diff, HTTP, "
				+ ((this.curl != null) ? "curl" : "Java client"), before, peakAnon, heapPeak, seconds));
	}

	private Path adapter(Path dir, List<TensorSpec> specs, boolean dora) throws IOException {
		return SyntheticModels.adapter(dir, specs, 16, dora).get("adapter_model").getParent();
	}

	private String uploadAdapter(Path adapter, String name) {
		ApiClient.Multipart body = ApiClient.multipart(Map.of("kind", "lora", "name", name))
			.file("adapter_model", adapter.resolve("adapter_model.safetensors"))
			.file("adapter_config", adapter.resolve("adapter_config.json"));
		return idOf(this.api.postMultipart("/api/v1/patches", body).json());
	}

	private String upload(String path, Map<String, ?> metadata, Path file) {
		return idOf(this.api.uploadStreaming(path, metadata, "weights", file));
	}

	private String post(Map<String, Object> recipe) {
		ApiClient.Response response = this.api.postJson("/api/v1/compositions", recipe);
		if (response.code() != 200 && response.code() != 201) {
			throw new IllegalStateException("composition refused: " + new String(response.body()));
		}
		return idOf(response.json());
	}

	private static String weightsPath(String id) {
		return "/api/v1/compositions/" + id + "/weights";
	}

	private static String idOf(tools.jackson.databind.JsonNode created) {
		if (created.get("id") == null) {
			throw new IllegalStateException("refused: " + created);
		}
		return created.get("id").asString();
	}

	/** Size of a safetensors file's data section, read from its header length. */
	private static long dataBytes(Path file) throws IOException {
		try (FileChannel channel = FileChannel.open(file)) {
			ByteBuffer length = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
			channel.read(length, 0);
			return channel.size() - 8 - length.flip().getLong();
		}
	}

	/** The same for a ready composition, from the first 8 bytes of its weights. */
	private long servedDataBytes(String id, long size) {
		ApiClient.Response head = this.api.get(weightsPath(id), "Range", "bytes=0-7");
		if (head.code() != 206 || head.body().length != 8) {
			throw new IllegalStateException("a range of the weights answered " + head.code());
		}
		return size - 8 - ByteBuffer.wrap(head.body()).order(ByteOrder.LITTLE_ENDIAN).getLong();
	}

	private static void check(String what, long actual, long expected) {
		if (actual != expected) {
			throw new IllegalStateException(what + " has " + actual + " bytes, expected " + expected);
		}
	}

	/**
	 * Downloads to the end and discards the bytes, with curl in its own process or, where
	 * there is no curl, the Java client in this JVM; returns the bytes received.
	 */
	private long download(String url, boolean authorized) {
		try {
			if (this.curl != null) {
				List<String> command = new ArrayList<>(
						List.of("curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}", url));
				if (authorized) {
					command.addAll(List.of("-H", "Authorization: " + this.authorization));
				}
				Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
				String output = new String(process.getInputStream().readAllBytes()).trim();
				if (process.waitFor() != 0) {
					throw new IllegalStateException("curl " + url + " failed: " + output);
				}
				return Long.parseLong(output);
			}
			HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url));
			if (authorized) {
				request.header("Authorization", this.authorization);
			}
			HttpResponse<InputStream> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
			try (InputStream in = response.body()) {
				if (response.statusCode() != 200) {
					throw new IllegalStateException("GET " + url + " answered " + response.statusCode());
				}
				return in.transferTo(OutputStream.nullOutputStream());
			}
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
	}

	private static String curlVersion() {
		try {
			Process process = new ProcessBuilder("curl", "--version").redirectErrorStream(true).start();
			String output = new String(process.getInputStream().readAllBytes());
			return (process.waitFor() == 0) ? output.lines().findFirst().orElse("curl") : null;
		}
		catch (IOException ex) {
			return null;
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
	}

	private String downloadClient() {
		return (this.curl != null) ? "downloads: curl -sS -o /dev/null (" + this.curl.split(" \\(")[0] + ")"
				: "curl not found: downloads are read by the Java client in this JVM instead";
	}

	String report() {
		StringBuilder report = new StringBuilder();
		report.append(String.format(Locale.ROOT,
				"cores: %d, max heap: %d MiB, runs per case: %d (after 1 warm-up), each run a new recipe%n",
				Runtime.getRuntime().availableProcessors(), Runtime.getRuntime().maxMemory() >> 20,
				this.settings.runs()));
		long mlp = this.settings.hidden() * 11L / 4;
		report.append(String.format(Locale.ROOT,
				"models: %s; Llama-shaped projections only, hidden %d (q, k, v, o %2$d×%2$d, gate and up %d×%2$d, "
						+ "down %2$d×%3$d); adapters r=16, alpha 32, on every projection%n",
				String.join(", ", this.models), this.settings.hidden(), mlp));
		report.append("service properties: ")
			.append(this.settings.springProperties().isEmpty() ? "defaults"
					: String.join(", ", this.settings.springProperties()))
			.append('\n');
		report.append(downloadClient()).append('\n');
		report.append(this.peers.describe());
		if (this.peers.has("numpy") || this.peers.has("torch")) {
			report.append("; they write their output to ")
				.append((this.settings.peerOutputs() != null) ? "files" : "/dev/null");
		}
		report.append('\n');
		report.append("\nPatchbay: POST /api/v1/compositions, then GET …/weights to the end. Ratios are paired run by"
				+ " run; each cell is median [min–max].\n\n");
		report.append("| case | Patchbay s | peer | peer s | Patchbay ÷ peer | peer process s | floor s "
				+ "| floor ÷ Patchbay | JVM CPU s |\n");
		report.append("|---|---|---|---|---|---|---|---|---|\n");
		for (Result result : this.results) {
			boolean peer = result.peer() != null;
			report.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %s | %s | %s | %s | %.2f |%n",
					result.name(), result.patchbay().format("%.3f"), peer ? result.peerName() : "skipped",
					peer ? result.peer().format("%.3f") : "–", peer ? result.ratio().format("%.2f") : "–",
					peer ? String.format(Locale.ROOT, "%.3f", result.peerProcess().median()) : "–",
					result.floor().format("%.3f"), result.ofFloor().format("%.2f"), result.cpuSeconds()));
		}
		if (!this.downloads.isEmpty()) {
			report.append("\n| download | Patchbay s | loopback floor s | floor ÷ Patchbay | Patchbay GiB/s |\n");
			report.append("|---|---|---|---|---|\n");
			for (Download download : this.downloads) {
				report.append(String.format(Locale.ROOT, "| %s | %s | %s | %s | %.2f |%n", download.name(),
						download.patchbay().format("%.3f"), download.floor().format("%.3f"),
						download.ofFloor().format("%.2f"),
						download.bytes() / download.patchbay().median() / (1L << 30)));
			}
		}
		if (!this.memory.isEmpty()) {
			report.append("\n| memory run | RssAnon before | peak RssAnon | added | peak heap | time |\n"
					+ "|---|---|---|---|---|---|\n");
			for (Memory run : this.memory) {
				report.append(String.format(Locale.ROOT, "| %s | %d MiB | %d MiB | %d MiB | %d MiB | %.1f s |%n",
						run.name(), run.before() >> 20, run.peak() >> 20, (run.peak() - run.before()) >> 20,
						run.heapPeak() >> 20, run.seconds()));
			}
		}
		report.append("\nTargets:\n");
		for (Result result : this.results) {
			if (result.name().contains("DoRA")) {
				continue;
			}
			report.append("- ")
				.append(result.name())
				.append(": Patchbay ÷ peer ≤ 0.5: ")
				.append((result.ratio() == null) ? "no peer"
						: String.format(Locale.ROOT, "%.2f, %s", result.ratio().median(),
								met(result.ratio().median() <= 0.5)))
				.append('\n');
		}
		for (Download download : this.downloads) {
			report.append(String.format(Locale.ROOT, "- %s: ≥ 0.8 of the loopback floor: %.2f, %s%n", download.name(),
					download.ofFloor().median(), met(download.ofFloor().median() >= 0.8)));
		}
		for (Memory run : this.memory) {
			report.append(String.format(Locale.ROOT, "- %s: peak RssAnon ≤ 1 GiB: %d MiB, %s%n", run.name(),
					run.peak() >> 20, met(run.peak() <= 1L << 30)));
		}
		return report.toString();
	}

	private static String met(boolean met) {
		return met ? "met" : "not met";
	}

}
