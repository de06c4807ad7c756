package dev.patchbay.composition;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
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
import dev.patchbay.events.EventType;
import dev.patchbay.events.Events;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.ProblemBodies;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.ServiceBusyException;
import dev.patchbay.storage.BlobPins;

/**
 * Computes compositions on a bounded pool of workers. The database is the queue
 * ({@link CompositionQueue}): a worker claims a composition atomically and holds it by a
 * renewed lease, so a recipe is computed once however many requests or instances name it,
 * and a composition whose instance died is taken over once its lease expires.
 * <p>
 * Results go into this instance's {@link ResultCache}, without fsync, and readers follow
 * them as they are written. Only a materialized result is stored durably, in the blob
 * store, and only after its last byte reached the readers. A ready result missing from
 * this instance's cache is recomputed here on demand (a refill) and must match the digest
 * recorded when it was first computed.
 */
@Component
class CompositionJobs implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(CompositionJobs.class);

	/**
	 * How long a request to materialize a ready composition waits for its result to be
	 * recomputed here, when this instance's cache lacks it.
	 */
	private static final Duration MATERIALIZE_WAIT = Duration.ofHours(1);

	private final CompositionRepository compositions;

	private final Planner planner;

	private final Materializer materializer;

	private final Registry registry;

	private final TransactionTemplate transactions;

	private final CompositionProperties properties;

	private final JsonMapper json;

	private final ThreadPoolExecutor workers;

	private final Map<UUID, LiveOutput> live = new ConcurrentHashMap<>();

	/** Ready compositions being recomputed into this instance's cache; its own lock. */
	private final Map<UUID, LiveOutput> refills = new HashMap<>();

	private final ResultCache cache;

	private final MeterRegistry meters;

	private final CompositionQueue queue;

	private final TensorEngine engine;

	private final ScheduledExecutorService scheduler;

	/** Compositions this instance holds leases on. */
	private final Set<UUID> claimed = ConcurrentHashMap.newKeySet();

	private final Events events;

	private final ProblemBodies problems;

	private volatile boolean closing;

	CompositionJobs(CompositionRepository compositions, Planner planner, Materializer materializer, Registry registry,
			TransactionTemplate transactions, CompositionProperties properties, JsonMapper json, MeterRegistry meters,
			CompositionQueue queue, ResultCache cache, TensorEngine engine, Events events, ProblemBodies problems) {
		this.events = events;
		this.problems = problems;
		this.engine = engine;
		this.meters = meters;
		this.cache = cache;
		this.compositions = compositions;
		this.planner = planner;
		this.materializer = materializer;
		this.registry = registry;
		this.transactions = transactions;
		this.properties = properties;
		this.json = json;
		this.queue = queue;
		// Bounded: a task refused here waits in the database's queue instead.
		this.workers = new ThreadPoolExecutor(properties.workers(), properties.workers(), 0, TimeUnit.MILLISECONDS,
				new ArrayBlockingQueue<>(4 * properties.workers() + 16), (task) -> {
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
		try {
			this.workers.execute(() -> {
				if (this.queue.claim(id)) {
					run(id);
				}
			});
		}
		catch (RejectedExecutionException ex) {
			// Busy: it stays pending, and the poller claims it when a worker is free.
		}
	}

	private void claimWhileIdle() {
		try {
			Optional<UUID> next;
			while (this.claimed.size() < this.properties.workers() && this.workers.getQueue().remainingCapacity() > 0
					&& (next = this.queue.claimNext()).isPresent()) {
				UUID id = next.get();
				this.claimed.add(id);
				try {
					this.workers.execute(() -> run(id));
				}
				catch (RejectedExecutionException ex) {
					// Filled by submissions since the check: the claim goes back.
					this.claimed.remove(id);
					this.queue.release(id);
					return;
				}
			}
		}
		catch (RuntimeException ex) {
			logger.warn("Could not poll the composition queue", ex);
		}
	}

	private void renewLeases() {
		try {
			List<UUID> claimed = List.copyOf(this.claimed);
			this.queue.renew(claimed);
			// A cancel that another instance answered reaches this one's workers here.
			this.queue.cancelledAmong(claimed).forEach(this::cancelled);
		}
		catch (RuntimeException ex) {
			logger.warn("Could not renew composition leases", ex);
		}
	}

	/**
	 * Tells a worker computing a cancelled composition here to stop at its next chunk;
	 * nothing if none is.
	 */
	void cancelled(UUID id) {
		LiveOutput output = this.live.get(id);
		if (output != null) {
			output.cancel();
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
		try (BlobPins pins = this.registry.pins()) {
			Plan plan = this.planner.plan(composition.recipe(), pins);
			if (plan.outputBytes() != composition.getBytesTotal()) {
				throw new IllegalStateException("the plan's output has " + plan.outputBytes()
						+ " bytes but the recipe was validated with " + composition.getBytesTotal());
			}
			try (ResultCache.Writer entry = this.cache.write(composition.getRecipeDigest(), plan.outputBytes())) {
				output = new LiveOutput(entry, null);
				this.live.put(id, output);
				// Cancelled between the claim and now: the signal found no output to
				// stop.
				if (this.compositions.findStatus(id).orElse(null) != CompositionStatus.RUNNING) {
					output.cancel();
				}
				try {
					String digest = execute(plan, entry, output,
							(tensorsDone) -> this.compositions.recordProgress(id, tensorsDone, entry.written()));
					// Readers have every byte by now; what follows is off their path.
					boolean recorded = finish(id, (current) -> {
						// Asked to be materialized before or while computing.
						UUID modelId = current.isMaterialize()
								? this.materializer.register(current, entry.path(), digest) : null;
						current.succeeded(digest, modelId);
					});
					long elapsed = System.nanoTime() - started;
					if (recorded) {
						logger.info("Composition {} ready: {} bytes in {} ms", id, plan.outputBytes(),
								elapsed / 1_000_000);
						record("ready", elapsed, plan.outputBytes());
					}
					else if (this.compositions.findStatus(id).orElse(null) == CompositionStatus.CANCELLED) {
						// Cancelled after its last byte: what it wrote goes all the same.
						output.cancel();
						output.failed(new CancelledException(id));
						this.cache.remove(composition.getRecipeDigest());
						logger.info("Composition {} cancelled as it finished; its result is dropped", id);
						record("cancelled", elapsed, 0);
					}
				}
				finally {
					// Out of the map before the writer's pin goes: a reader that finds
					// the output here can still pin it.
					this.live.remove(id);
				}
			}
		}
		catch (Exception ex) {
			if (output != null) {
				output.failed((ex instanceof IOException io) ? io : new IOException(ex.getMessage(), ex));
			}
			if (this.closing) {
				logger.info("Composition {} interrupted by shutdown; it goes back to the queue", id);
				return;
			}
			if (ex instanceof CancelledException || (output != null && output.isCancelled())) {
				// The cache entry, never finished, went when its writer closed; the row
				// already says cancelled.
				logger.info("Composition {} cancelled after {} of {} tensors; its partial output is dropped", id,
						output.tensorsDone(), composition.getTensorsTotal());
				record("cancelled", System.nanoTime() - started, 0);
				return;
			}
			logger.warn("Composition {} failed", id, ex);
			record("failed", System.nanoTime() - started, 0);
			String error = problemJson(ex);
			finish(id, (current) -> current.failed(error));
		}
	}

	/**
	 * Runs a plan into a live output and finishes it.
	 * @return the result's digest
	 */
	private String execute(Plan plan, ResultCache.Writer entry, LiveOutput output, PlanExecutor.Progress record)
			throws IOException {
		long[] lastReport = { 0 };
		new PlanExecutor(plan, this.engine, this.properties.chunkElements()).execute(stoppable(entry, output),
				(tensorsDone) -> {
					output.tensorDone(tensorsDone);
					if (System.nanoTime() - lastReport[0] > this.properties.progressInterval().toNanos()) {
						lastReport[0] = System.nanoTime();
						record.tensorDone(tensorsDone);
					}
				});
		return output.finish();
	}

	/**
	 * The entry's channel, refusing further chunks once the output is cancelled: the
	 * executor then stops, finishing or dropping the chunks in flight.
	 */
	private static WritableByteChannel stoppable(ResultCache.Writer entry, LiveOutput output) {
		return new WritableByteChannel() {

			@Override
			public int write(ByteBuffer bytes) throws IOException {
				if (output.isCancelled()) {
					throw new CancelledException(null);
				}
				return entry.write(bytes);
			}

			@Override
			public boolean isOpen() {
				return entry.isOpen();
			}

			@Override
			public void close() {
				// The entry belongs to its owner, who finishes or drops it.
			}

		};
	}

	/** A cancelled composition's worker stopping. */
	static final class CancelledException extends IOException {

		CancelledException(UUID id) {
			super((id != null) ? "composition " + id + " was cancelled" : "the composition was cancelled");
		}

	}

	/**
	 * The result of a ready composition that this instance's cache lacks (evicted, or
	 * computed by another instance), recomputed here: once per instance however many
	 * readers ask, and checked against the recorded digest.
	 * @return the output being recomputed, to follow or pin
	 */
	LiveOutput refill(Composition composition) throws IOException {
		UUID id = composition.getId();
		synchronized (this.refills) {
			LiveOutput running = this.refills.get(id);
			if (running != null) {
				return running;
			}
			ResultCache.Writer entry = this.cache.write(composition.getRecipeDigest(), composition.getBytesTotal());
			LiveOutput output = new LiveOutput(entry, composition.getResultDigest());
			this.refills.put(id, output);
			try {
				this.workers.execute(() -> recompute(composition, entry, output));
			}
			catch (RuntimeException ex) {
				this.refills.remove(id);
				entry.close();
				if (ex instanceof RejectedExecutionException) {
					throw new ServiceBusyException(ProblemKind.COMPOSITIONS_BUSY,
							"every composition worker is busy, and composition " + id
									+ " must be recomputed to be read here; try again later",
							this.properties.pollInterval().multipliedBy(5), Map.of("id", id.toString()));
				}
				throw ex;
			}
			return output;
		}
	}

	/** A composition's result in this instance's cache, if it is there and verified. */
	Optional<ResultCache.Handle> cached(Composition composition) throws IOException {
		return this.cache.open(composition.getRecipeDigest(), composition.getResultDigest());
	}

	/**
	 * The cached result, or else the output refilling it: checked under the refills'
	 * lock, so that a refill that just completed is found in the cache.
	 */
	Cached cachedOrRefill(Composition composition) throws IOException {
		Optional<ResultCache.Handle> cached = cached(composition);
		if (cached.isPresent()) {
			return new Cached(cached.get(), null);
		}
		synchronized (this.refills) {
			cached = cached(composition);
			return cached.isPresent() ? new Cached(cached.get(), null) : new Cached(null, refill(composition));
		}
	}

	/**
	 * Either a pinned result or the output recomputing it.
	 *
	 * @param handle the pinned cache entry, or null
	 * @param refill the refill to follow, or null
	 */
	record Cached(ResultCache.Handle handle, LiveOutput refill) {
	}

	/**
	 * Pins a ready composition's result, refilling the cache first if it lacks it.
	 * @return the pinned entry, or null if the refill did not finish by the deadline
	 * @throws IOException if the refill failed or did not match the recorded digest
	 */
	ResultCache.Handle awaitCached(Composition composition, long deadlineNanos)
			throws IOException, InterruptedException {
		while (true) {
			Cached cached = cachedOrRefill(composition);
			if (cached.handle() != null) {
				return cached.handle();
			}
			Optional<ResultCache.Handle> pin = cached.refill().pin();
			if (pin.isEmpty()) {
				// Finished and evicted in between: look again.
				continue;
			}
			boolean finished;
			try {
				finished = cached.refill().awaitFinished(deadlineNanos);
			}
			catch (IOException | InterruptedException | RuntimeException ex) {
				pin.get().close();
				throw ex;
			}
			if (!finished) {
				pin.get().close();
				return null;
			}
			return pin.get();
		}
	}

	private void recompute(Composition composition, ResultCache.Writer entry, LiveOutput output) {
		long started = System.nanoTime();
		try (entry) {
			try (BlobPins pins = this.registry.pins()) {
				Plan plan = this.planner.plan(composition.recipe(), pins);
				execute(plan, entry, output, (tensorsDone) -> {
				});
				long elapsed = System.nanoTime() - started;
				logger.info("Composition {} recomputed into the local cache: {} bytes in {} ms", composition.getId(),
						entry.size(), elapsed / 1_000_000);
				record("refill", elapsed, entry.size());
			}
			finally {
				synchronized (this.refills) {
					this.refills.remove(composition.getId());
				}
			}
		}
		catch (Exception ex) {
			output.failed((ex instanceof IOException io) ? io : new IOException(ex.getMessage(), ex));
			if (this.closing) {
				return;
			}
			// Bytes that differ from the recorded result are a bug or corrupt input,
			// never served as the result.
			logger.error("Recomputing composition {} failed", composition.getId(), ex);
			record("refill-failed", System.nanoTime() - started, 0);
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
			if (current != null && current.getStatus() == CompositionStatus.CANCELLED) {
				return false;
			}
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
			// Under the row's lock and in the transaction that records the outcome: the
			// event is there exactly when the status is, for every replica's stream.
			publishOutcome(current);
			return true;
		});
		return Boolean.TRUE.equals(recorded);
	}

	private void publishOutcome(Composition composition) {
		Map<String, Object> data = new LinkedHashMap<>();
		data.put("compositionId", composition.getId());
		data.put("recipeDigest", composition.getRecipeDigest());
		if (composition.getStatus() == CompositionStatus.READY) {
			data.put("resultDigest", composition.getResultDigest());
			data.put("resultModelId", composition.getResultModelId());
			this.events.publish(EventType.COMPOSITION_READY, data, composition.getId());
		}
		else if (composition.getStatus() == CompositionStatus.FAILED) {
			data.put("error", (composition.getError() != null) ? this.json.readTree(composition.getError()) : null);
			this.events.publish(EventType.COMPOSITION_FAILED, data, composition.getId());
		}
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
	 * Materializes a composition that is already ready: its result goes durably into the
	 * blob store (refilled into the cache first if this instance lacks it), then is
	 * registered as a model.
	 */
	UUID materializeReady(Composition composition) throws IOException {
		long deadline = System.nanoTime() + MATERIALIZE_WAIT.toNanos();
		try (ResultCache.Handle result = awaitCached(composition, deadline)) {
			if (result == null) {
				throw new IOException("composition " + composition.getId() + " was not recomputed within "
						+ MATERIALIZE_WAIT + " to be materialized");
			}
			return this.materializer.register(composition, result.path(), composition.getResultDigest());
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new InterruptedIOException("interrupted while materializing composition " + composition.getId());
		}
	}

	private String problemJson(Exception ex) {
		return this.json.writeValueAsString(this.problems.of(ex, ProblemKind.COMPOSITION_FAILED));
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
