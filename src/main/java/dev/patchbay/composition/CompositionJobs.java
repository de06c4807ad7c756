package dev.patchbay.composition;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.engine.TensorEngine;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.LineageEdge;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.PatchbayException;
import dev.patchbay.storage.BlobOutput;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.StagedBlob;

/**
 * Computes compositions on a bounded pool of workers. The database is the queue
 * ({@link CompositionQueue}): a worker claims a composition atomically and holds it by a
 * renewed lease, so a recipe is computed once however many requests or instances name it,
 * and a composition whose instance died is taken over once its lease expires.
 */
@Component
class CompositionJobs implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(CompositionJobs.class);

	private final CompositionRepository compositions;

	private final Planner planner;

	private final BlobStore blobs;

	private final Ingest ingest;

	private final Registry registry;

	private final TransactionTemplate transactions;

	private final CompositionProperties properties;

	private final JsonMapper json;

	private final ExecutorService workers;

	private final Map<UUID, LiveOutput> live = new ConcurrentHashMap<>();

	private final MeterRegistry meters;

	private final CompositionQueue queue;

	private final TensorEngine engine;

	private final ScheduledExecutorService scheduler;

	/** Compositions this instance holds leases on. */
	private final Set<UUID> claimed = ConcurrentHashMap.newKeySet();

	private volatile boolean closing;

	CompositionJobs(CompositionRepository compositions, Planner planner, BlobStore blobs, Ingest ingest,
			Registry registry, TransactionTemplate transactions, CompositionProperties properties, JsonMapper json,
			MeterRegistry meters, CompositionQueue queue, TensorEngine engine) {
		this.engine = engine;
		this.meters = meters;
		this.compositions = compositions;
		this.planner = planner;
		this.blobs = blobs;
		this.ingest = ingest;
		this.registry = registry;
		this.transactions = transactions;
		this.properties = properties;
		this.json = json;
		this.queue = queue;
		this.workers = Executors.newFixedThreadPool(properties.workers(), (task) -> {
			Thread thread = new Thread(task, "composition-worker");
			thread.setDaemon(true);
			return thread;
		});
		this.scheduler = Executors.newSingleThreadScheduledExecutor((task) -> {
			Thread thread = new Thread(task, "composition-queue");
			thread.setDaemon(true);
			return thread;
		});
	}

	/**
	 * Starts taking work from the shared queue: pending compositions, and running ones
	 * whose instance stopped renewing its lease.
	 */
	@EventListener(ApplicationReadyEvent.class)
	void start() {
		long poll = this.properties.pollInterval().toMillis();
		this.scheduler.scheduleWithFixedDelay(this::claimWhileIdle, 0, poll, TimeUnit.MILLISECONDS);
		long renew = this.properties.leaseTimeout().toMillis() / 3;
		this.scheduler.scheduleWithFixedDelay(this::renewLeases, renew, renew, TimeUnit.MILLISECONDS);
	}

	/** Asks for a composition just created here to be computed soon. */
	void submit(UUID id) {
		this.workers.execute(() -> {
			if (this.queue.claim(id)) {
				run(id);
			}
		});
	}

	private void claimWhileIdle() {
		try {
			Optional<UUID> next;
			while (this.claimed.size() < this.properties.workers() && (next = this.queue.claimNext()).isPresent()) {
				UUID id = next.get();
				this.claimed.add(id);
				this.workers.execute(() -> run(id));
			}
		}
		catch (RuntimeException ex) {
			logger.warn("Could not poll the composition queue", ex);
		}
	}

	private void renewLeases() {
		try {
			this.queue.renew(List.copyOf(this.claimed));
		}
		catch (RuntimeException ex) {
			logger.warn("Could not renew composition leases", ex);
		}
	}

	/** The output of a composition being computed here, if it is. */
	Optional<LiveOutput> live(UUID id) {
		return Optional.ofNullable(this.live.get(id));
	}

	/** Computes a composition this instance has claimed. */
	private void run(UUID id) {
		this.claimed.add(id);
		try {
			compute(id);
		}
		finally {
			this.claimed.remove(id);
		}
	}

	private void compute(UUID id) {
		Composition composition = this.compositions.findById(id).orElseThrow();
		long started = System.nanoTime();
		LiveOutput output = null;
		try (BlobOutput blob = this.blobs.create()) {
			Plan plan = this.planner.plan(composition.recipe()).plan();
			output = new LiveOutput(blob, plan.outputBytes());
			this.live.put(id, output);
			LiveOutput progress = output;
			long[] lastReport = { 0 };
			new PlanExecutor(plan, this.engine, this.properties.chunkElements()).execute(blob, (tensorsDone) -> {
				progress.tensorDone(tensorsDone);
				if (System.nanoTime() - lastReport[0] > this.properties.progressInterval().toNanos()) {
					lastReport[0] = System.nanoTime();
					this.compositions.recordProgress(id, tensorsDone, blob.written());
				}
			});
			StagedBlob staged = blob.finish();
			output.commit(() -> {
				this.blobs.commit(staged);
				return this.blobs.localPath(staged.digest());
			});
			boolean recorded = finish(id, (current) -> {
				UUID modelId = current.isMaterialize() ? materialize(current, staged.digest()) : null;
				current.succeeded(staged.digest(), modelId);
			});
			long elapsed = System.nanoTime() - started;
			if (recorded) {
				logger.info("Composition {} ready: {} bytes in {} ms", id, staged.size(), elapsed / 1_000_000);
				record("ready", elapsed, staged.size());
			}
		}
		catch (Exception ex) {
			if (this.closing) {
				logger.info("Composition {} interrupted by shutdown; it goes back to the queue", id);
				return;
			}
			logger.warn("Composition {} failed", id, ex);
			record("failed", System.nanoTime() - started, 0);
			if (output != null) {
				output.failed((ex instanceof IOException io) ? io : new IOException(ex.getMessage(), ex));
			}
			String error = problemJson(ex);
			finish(id, (current) -> current.failed(error));
		}
		finally {
			this.live.remove(id);
		}
	}

	/**
	 * Records an outcome if this instance still holds the composition's lease. A lease
	 * lost to another instance (this one stalled past the timeout) means the other
	 * instance's result stands and this one's is dropped.
	 * @return whether the outcome was recorded
	 */
	private boolean finish(UUID id, Outcome outcome) {
		Boolean recorded = this.transactions.execute((status) -> {
			Composition current = this.compositions.lockById(id).orElse(null);
			if (current == null || current.getStatus() != CompositionStatus.RUNNING
					|| !this.queue.instanceId().equals(current.getClaimedBy())) {
				logger.warn("Composition {} was taken over by another instance; dropping this result", id);
				return false;
			}
			try {
				outcome.apply(current);
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
			return true;
		});
		return Boolean.TRUE.equals(recorded);
	}

	@FunctionalInterface
	private interface Outcome {

		void apply(Composition composition) throws IOException;

	}

	/**
	 * Composition duration and output bytes, by outcome; bytes per second follow from the
	 * two.
	 */
	private void record(String outcome, long nanos, long bytes) {
		Timer.builder("patchbay.composition.duration")
			.description("Time to compute a composition")
			.tag("outcome", outcome)
			.register(this.meters)
			.record(nanos, TimeUnit.NANOSECONDS);
		Counter.builder("patchbay.composition.output")
			.description("Bytes of composed weights written")
			.baseUnit("bytes")
			.register(this.meters)
			.increment(bytes);
	}

	/**
	 * Registers a composition's stored result as a model, with its lineage and its base's
	 * graph; no bytes are copied.
	 */
	UUID materialize(Composition composition, String digest) throws IOException {
		ArtifactDetails base = this.registry.get(ArtifactType.MODEL, composition.getBaseModelId());
		String baseName = base.name().substring(0, Math.min(base.name().length(), 100));
		List<LineageEdge> lineage = new ArrayList<>();
		lineage.add(new LineageEdge(composition.getBaseModelId(), "base"));
		composition.getTerms().forEach((term) -> lineage.add(new LineageEdge(term.patchId(), "patch")));
		ArtifactMetadata metadata = new ArtifactMetadata(null, baseName + "+composition-" + composition.getId(), null,
				base.family(), composition.getBaseModelId(),
				Map.of("patchbay.dev/composition", composition.getId().toString()), null);
		return this.ingest.registerStoredModel(metadata, digest, "model.safetensors", lineage, composition.getId())
			.id();
	}

	private String problemJson(Exception ex) {
		if (ex instanceof PatchbayException problem) {
			return this.json.writeValueAsString(Map.of("type", "https://patchbay.dev/problems/" + problem.type(),
					"title", problem.title(), "detail", String.valueOf(problem.getMessage())));
		}
		return this.json.writeValueAsString(Map.of("type", "https://patchbay.dev/problems/composition-failed", "title",
				"Composition failed", "detail", "the composition failed: " + ex.getMessage()));
	}

	/**
	 * Stops the workers and hands their compositions back to the queue, so another
	 * instance (or this one, restarted) takes them up without waiting for the lease to
	 * expire.
	 */
	@Override
	public void close() throws InterruptedException {
		this.closing = true;
		this.scheduler.shutdownNow();
		this.workers.shutdownNow();
		this.workers.awaitTermination(10, TimeUnit.SECONDS);
		int released = this.queue.releaseAll();
		if (released > 0) {
			logger.info("Released {} unfinished composition(s) to the queue", released);
		}
	}

}
