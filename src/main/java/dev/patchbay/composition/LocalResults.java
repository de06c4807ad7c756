package dev.patchbay.composition;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * Ready compositions' results in this instance's {@link ResultCache}. A ready result
 * missing from this instance's cache is recomputed here on demand (a refill) and must
 * match the digest recorded when it was first computed.
 */
@Component
class LocalResults {

	private static final Logger logger = LoggerFactory.getLogger(LocalResults.class);

	/**
	 * How long a request to materialize a ready composition waits for its result to be
	 * recomputed here, when this instance's cache lacks it.
	 */
	private static final Duration MATERIALIZE_WAIT = Duration.ofHours(1);

	private final ResultCache cache;

	private final CompositionScheduler scheduler;

	private final PlanRunner runner;

	private final Materializer materializer;

	private final CompositionRepository compositions;

	/** Ready compositions being recomputed into this instance's cache; its own lock. */
	private final Map<UUID, LiveOutput> refills = new HashMap<>();

	LocalResults(ResultCache cache, CompositionScheduler scheduler, PlanRunner runner, Materializer materializer,
			CompositionRepository compositions) {
		this.cache = cache;
		this.compositions = compositions;
		this.scheduler = scheduler;
		this.runner = runner;
		this.materializer = materializer;
	}

	/**
	 * The result of a ready composition that this instance's cache lacks (evicted, or
	 * computed by another instance), recomputed here: once per instance however many
	 * readers ask, and checked against the recorded digest.
	 * @return the output being recomputed, to follow or pin
	 */
	private LiveOutput refill(Composition composition) throws IOException {
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
				this.scheduler.refill(id, () -> recompute(composition, entry, output));
			}
			catch (RuntimeException ex) {
				this.refills.remove(id);
				entry.close();
				throw ex;
			}
			return output;
		}
	}

	/** A composition's result in this instance's cache, if it is there and verified. */
	private Optional<ResultCache.Handle> cached(Composition composition) throws IOException {
		return this.cache.open(composition.getRecipeDigest(), composition.getResultDigest());
	}

	/**
	 * The cached result, or else the output refilling it: checked under the refills'
	 * lock, so that a refill that just completed is found in the cache.
	 * @throws dev.patchbay.shared.ServiceBusyException if it must be refilled and every
	 * worker is busy
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
			try (PlanRunner.Planned planned = this.runner.plan(composition.recipe())) {
				String digest = this.runner.execute(planned.plan(), entry, output, (tensorsDone) -> {
				});
				// A sharded composition's whole file was never computed as one: its
				// first one here fixes the digest every later copy is checked against.
				if (composition.getResultDigest() == null) {
					this.compositions.recordResultDigest(composition.getId(), digest);
				}
				long elapsed = System.nanoTime() - started;
				logger.info("Composition {} recomputed into the local cache: {} bytes in {} ms", composition.getId(),
						entry.size(), elapsed / 1_000_000);
				this.runner.record("refill", elapsed, entry.size());
			}
			finally {
				synchronized (this.refills) {
					this.refills.remove(composition.getId());
				}
			}
		}
		catch (Exception ex) {
			output.failed((ex instanceof IOException io) ? io : new IOException(ex.getMessage(), ex));
			if (this.scheduler.closing()) {
				return;
			}
			// Bytes that differ from the recorded result are a bug or corrupt input,
			// never served as the result.
			logger.error("Recomputing composition {} failed", composition.getId(), ex);
			this.runner.record("refill-failed", System.nanoTime() - started, 0);
		}
	}

	/**
	 * Materializes a composition that is already ready: its result goes durably into the
	 * blob store (refilled into the cache first if this instance lacks it), then is
	 * registered as a model.
	 */
	UUID materializeReady(Composition composition) throws IOException {
		return materializeWhole(composition).modelId();
	}

	/**
	 * Materializes a composition from its whole file here (refilled first if this
	 * instance lacks it), as {@link #materializeReady} does, also for a sharded one whose
	 * units were just computed and whose whole digest is not known yet.
	 */
	Materialized materializeWhole(Composition composition) throws IOException {
		long deadline = System.nanoTime() + MATERIALIZE_WAIT.toNanos();
		try (ResultCache.Handle result = awaitCached(composition, deadline)) {
			if (result == null) {
				throw new IOException("composition " + composition.getId() + " was not recomputed within "
						+ MATERIALIZE_WAIT + " to be materialized");
			}
			String digest = (composition.getResultDigest() != null) ? composition.getResultDigest() : result.digest();
			return new Materialized(digest, this.materializer.register(composition, result.path(), digest));
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new InterruptedIOException("interrupted while materializing composition " + composition.getId());
		}
	}

	/**
	 * A materialized result.
	 *
	 * @param digest the whole file's digest
	 * @param modelId the model it is registered as
	 */
	record Materialized(String digest, UUID modelId) {
	}

}
