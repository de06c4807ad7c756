package dev.patchbay.composition;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.stereotype.Component;

import dev.patchbay.shared.Sha256;

/**
 * Computes one shard unit of a sharded composition that this instance has claimed: the
 * plan of the whole recipe cut to the shard's tensors, written into this instance's
 * {@link ResultCache} as the shard's own file (its header, then its tensors), which is
 * byte for byte the shard a folder serves. The last unit to finish makes the composition
 * ready, and materializes it when that was asked.
 */
@Component
class ShardWorker implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(ShardWorker.class);

	private final CompositionRepository compositions;

	private final PlanRunner runner;

	private final ResultCache cache;

	private final ShardQueue shards;

	private final CompositionOutcomes outcomes;

	// Lazily: materializing reads the whole result through LocalResults, which refills on
	// the scheduler's workers, and the scheduler runs this worker.
	private final ObjectProvider<LocalResults> results;

	private final Map<ShardQueue.Unit, LiveOutput> live = new ConcurrentHashMap<>();

	private final ExecutorService materializing = Executors.newSingleThreadExecutor((task) -> {
		Thread thread = new Thread(task, "composition-materializer");
		thread.setDaemon(true);
		return thread;
	});

	private volatile boolean stopping;

	ShardWorker(CompositionRepository compositions, PlanRunner runner, ResultCache cache, ShardQueue shards,
			CompositionOutcomes outcomes, ObjectProvider<LocalResults> results) {
		this.compositions = compositions;
		this.runner = runner;
		this.cache = cache;
		this.shards = shards;
		this.outcomes = outcomes;
		this.results = results;
	}

	/** The cache key of a shard's file: the recipe and the shard's run of tensors. */
	static String key(String recipeDigest, ShardQueue.Unit unit) {
		return Sha256.hex("composition-shard\n" + recipeDigest + "\n" + unit.from() + "\n" + unit.to());
	}

	/** The plan of a whole recipe cut to one shard's tensors. */
	static Plan shard(Plan plan, ShardQueue.Unit unit) {
		return new Plan(plan.tensors().subList(unit.from(), unit.to()), plan.method(), plan.weights(), plan.baseless(),
				plan.finite(), plan.precision());
	}

	/** Tells the units of a cancelled composition computing here to stop. */
	void cancelled(UUID id) {
		this.live.forEach((unit, output) -> {
			if (unit.compositionId().equals(id)) {
				output.cancel();
			}
		});
	}

	/** The output of a unit being computed here, if it is. */
	Optional<LiveOutput> live(ShardQueue.Unit unit) {
		return Optional.ofNullable(this.live.get(unit));
	}

	/** From now on failures are the shutdown's: their units go back to the queue. */
	void stop() {
		this.stopping = true;
	}

	/** Computes a unit this instance has claimed. */
	void compute(ShardQueue.Unit unit) {
		UUID id = unit.compositionId();
		long started = System.nanoTime();
		LiveOutput output = null;
		Composition composition = this.compositions.findById(id).orElse(null);
		if (composition == null) {
			// Deleted since the claim: its units went with it.
			return;
		}
		try (PlanRunner.Planned planned = this.runner.plan(composition.recipe())) {
			Plan plan = shard(planned.plan(), unit);
			try (ResultCache.Writer entry = this.cache.write(key(composition.getRecipeDigest(), unit),
					plan.outputBytes())) {
				output = new LiveOutput(entry, null);
				this.live.put(unit, output);
				// Cancelled between the claim and now: the signal found no output to
				// stop.
				if (this.compositions.findStatus(id).orElse(null) != CompositionStatus.RUNNING) {
					output.cancel();
				}
				try {
					String digest = this.runner.execute(plan, entry, output, (tensorsDone) -> {
					});
					int left = this.shards.complete(unit, digest, plan.outputBytes());
					long elapsed = System.nanoTime() - started;
					logger.info("Composition {} shard {} computed: {} bytes in {} ms{}", id, unit.index() + 1,
							plan.outputBytes(), elapsed / 1_000_000, (left == -1)
									? ", but another instance took it over" : (left == 0) ? "; it was the last" : "");
					this.runner.record("shard", elapsed, plan.outputBytes());
					if (left == 0) {
						finished(id);
					}
				}
				finally {
					this.live.remove(unit);
				}
			}
		}
		catch (Exception ex) {
			if (output != null) {
				output.failed((ex instanceof IOException io) ? io : new IOException(ex.getMessage(), ex));
			}
			if (this.stopping) {
				logger.info("Composition {} shard {} interrupted by shutdown; it goes back to the queue", id,
						unit.index() + 1);
				return;
			}
			if (ex instanceof PlanRunner.CancelledException || (output != null && output.isCancelled())) {
				// Back to pending at once: a recipe posted again after its cancel queues
				// the composition anew, and its units should not wait out this lease.
				this.shards.release(unit);
				logger.info("Composition {} shard {} cancelled; its partial output is dropped", id, unit.index() + 1);
				return;
			}
			logger.warn("Composition {} failed computing shard {}", id, unit.index() + 1, ex);
			this.runner.record("failed", System.nanoTime() - started, 0);
			this.outcomes.failedSharded(id, ex);
			// The composition failed: its other units here stop too (on other instances
			// at their next lease renewal).
			cancelled(id);
		}
	}

	/**
	 * Every unit is in: the composition is ready, and then materialized if that was asked
	 * meanwhile (its whole file recomputed here), with the whole file's digest. Called by
	 * the worker of the last unit and, for a composition that missed it (its instance
	 * died between the two, or it was requeued after its units were in), by the poller.
	 */
	void finished(UUID id) {
		boolean[] materialize = { false };
		boolean recorded = this.outcomes.finishSharded(id, (current) -> {
			materialize[0] = current.isMaterialize();
			current.succeeded(null, null);
		});
		if (!recorded) {
			return;
		}
		logger.info("Composition {} ready: its last shard is in", id);
		if (materialize[0]) {
			// Not on this worker: putting the whole file together may refill it on the
			// workers, and with one worker this one would wait for itself.
			this.materializing.execute(() -> {
				try {
					this.outcomes.materializeReady(id, (current) -> this.results.getObject().materializeWhole(current));
				}
				catch (RuntimeException ex) {
					logger.error("Composition {} is ready but could not be materialized; asked again, it is retried",
							id, ex);
					this.outcomes.materializationFailed(id);
				}
			});
		}
	}

	/**
	 * Recomputes a unit that is ready elsewhere into this instance's cache, for a reader
	 * here; its output is checked against the unit's recorded digest.
	 */
	void recompute(Composition composition, ShardQueue.Unit unit, ResultCache.Writer entry, LiveOutput output) {
		try (entry; PlanRunner.Planned planned = this.runner.plan(composition.recipe())) {
			this.runner.execute(shard(planned.plan(), unit), entry, output, (tensorsDone) -> {
			});
		}
		catch (Exception ex) {
			output.failed((ex instanceof IOException io) ? io : new IOException(ex.getMessage(), ex));
			logger.error("Recomputing composition {} shard {} failed", composition.getId(), unit.index() + 1, ex);
		}
	}

	@Override
	public void close() {
		this.materializing.shutdownNow();
	}

}
