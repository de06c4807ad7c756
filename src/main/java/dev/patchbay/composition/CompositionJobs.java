package dev.patchbay.composition;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
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
 * Computes compositions on a bounded pool of workers. The database is the queue: a worker
 * claims a pending composition atomically, so a recipe is computed once however many
 * requests name it, and compositions left pending or running by a stopped instance are
 * taken up again at start-up.
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

	CompositionJobs(CompositionRepository compositions, Planner planner, BlobStore blobs, Ingest ingest,
			Registry registry, TransactionTemplate transactions, CompositionProperties properties, JsonMapper json,
			MeterRegistry meters) {
		this.meters = meters;
		this.compositions = compositions;
		this.planner = planner;
		this.blobs = blobs;
		this.ingest = ingest;
		this.registry = registry;
		this.transactions = transactions;
		this.properties = properties;
		this.json = json;
		this.workers = Executors.newFixedThreadPool(properties.workers(), (task) -> {
			Thread thread = new Thread(task, "composition-worker");
			thread.setDaemon(true);
			return thread;
		});
	}

	@EventListener(ApplicationReadyEvent.class)
	void resumeUnfinished() {
		int requeued = this.compositions.requeueRunning();
		List<Composition> pending = this.compositions.findByStatusIn(List.of(CompositionStatus.PENDING));
		if (requeued > 0 || !pending.isEmpty()) {
			logger.info("Resuming {} unfinished composition(s)", pending.size());
		}
		pending.forEach((composition) -> submit(composition.getId()));
	}

	void submit(UUID id) {
		this.workers.execute(() -> run(id));
	}

	/** The output of a composition being computed here, if it is. */
	Optional<LiveOutput> live(UUID id) {
		return Optional.ofNullable(this.live.get(id));
	}

	private void run(UUID id) {
		if (this.compositions.claim(id, Instant.now()) == 0) {
			return;
		}
		Composition composition = this.compositions.findById(id).orElseThrow();
		long started = System.nanoTime();
		LiveOutput output = null;
		try (BlobOutput blob = this.blobs.create()) {
			Plan plan = this.planner.plan(composition.recipe()).plan();
			output = new LiveOutput(blob, plan.outputBytes());
			this.live.put(id, output);
			LiveOutput progress = output;
			long[] lastReport = { 0 };
			new PlanExecutor(plan, this.properties.chunkElements()).execute(blob, (tensorsDone) -> {
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
			UUID modelId = composition.isMaterialize() ? materialize(composition, staged.digest()) : null;
			this.transactions.executeWithoutResult((status) -> {
				Composition current = this.compositions.findById(id).orElseThrow();
				current.succeeded(staged.digest(), modelId);
			});
			long elapsed = System.nanoTime() - started;
			logger.info("Composition {} ready: {} bytes in {} ms", id, staged.size(), elapsed / 1_000_000);
			record("ready", elapsed, staged.size());
		}
		catch (Exception ex) {
			logger.warn("Composition {} failed", id, ex);
			record("failed", System.nanoTime() - started, 0);
			if (output != null) {
				output.failed((ex instanceof IOException io) ? io : new IOException(ex.getMessage(), ex));
			}
			String error = problemJson(ex);
			this.transactions
				.executeWithoutResult((status) -> this.compositions.findById(id).orElseThrow().failed(error));
		}
		finally {
			this.live.remove(id);
		}
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

	@Override
	public void close() {
		this.workers.shutdownNow();
	}

}
