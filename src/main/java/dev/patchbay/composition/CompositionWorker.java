package dev.patchbay.composition;

import java.io.IOException;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * Computes one composition that this instance has claimed. Results go into this
 * instance's {@link ResultCache}, without fsync, and readers follow them as they are
 * written. Only a materialized result is stored durably, in the blob store, and only
 * after its last byte reached the readers.
 */
@Component
class CompositionWorker {

	private static final Logger logger = LoggerFactory.getLogger(CompositionWorker.class);

	private final CompositionRepository compositions;

	private final PlanRunner runner;

	private final ResultCache cache;

	private final CompositionOutcomes outcomes;

	private final Materializer materializer;

	private final Map<UUID, LiveOutput> live = new ConcurrentHashMap<>();

	private volatile boolean stopping;

	CompositionWorker(CompositionRepository compositions, PlanRunner runner, ResultCache cache,
			CompositionOutcomes outcomes, Materializer materializer) {
		this.compositions = compositions;
		this.runner = runner;
		this.cache = cache;
		this.outcomes = outcomes;
		this.materializer = materializer;
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

	/**
	 * Marks the failures from now on as the shutdown's interruptions: their compositions
	 * go back to the queue instead of being recorded as failed.
	 */
	void stop() {
		this.stopping = true;
	}

	/** Computes a composition this instance has claimed. */
	void compute(UUID id) {
		Composition composition = this.compositions.findById(id).orElseThrow();
		long started = System.nanoTime();
		LiveOutput output = null;
		try (PlanRunner.Planned planned = this.runner.plan(composition.recipe())) {
			Plan plan = planned.plan();
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
					String digest = this.runner.execute(plan, entry, output,
							(tensorsDone) -> this.compositions.recordProgress(id, tensorsDone, entry.written()));
					// Readers have every byte by now; what follows is off their path.
					boolean recorded = this.outcomes.finish(id, (current) -> {
						// Asked to be materialized before or while computing.
						UUID modelId = current.isMaterialize()
								? this.materializer.register(current, entry.path(), digest) : null;
						current.succeeded(digest, modelId);
					});
					long elapsed = System.nanoTime() - started;
					if (recorded) {
						logger.info("Composition {} ready: {} bytes in {} ms", id, plan.outputBytes(),
								elapsed / 1_000_000);
						this.runner.record("ready", elapsed, plan.outputBytes());
					}
					else if (this.compositions.findStatus(id).orElse(null) == CompositionStatus.CANCELLED) {
						// Cancelled after its last byte: what it wrote goes all the same.
						output.cancel();
						output.failed(new PlanRunner.CancelledException(id));
						this.cache.remove(composition.getRecipeDigest());
						logger.info("Composition {} cancelled as it finished; its result is dropped", id);
						this.runner.record("cancelled", elapsed, 0);
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
			if (this.stopping) {
				logger.info("Composition {} interrupted by shutdown; it goes back to the queue", id);
				return;
			}
			if (ex instanceof PlanRunner.CancelledException || (output != null && output.isCancelled())) {
				// The cache entry, never finished, went when its writer closed; the row
				// already says cancelled.
				logger.info("Composition {} cancelled after {} of {} tensors; its partial output is dropped", id,
						output.tensorsDone(), composition.getTensorsTotal());
				this.runner.record("cancelled", System.nanoTime() - started, 0);
				return;
			}
			logger.warn("Composition {} failed", id, ex);
			this.runner.record("failed", System.nanoTime() - started, 0);
			this.outcomes.failed(id, ex);
		}
	}

}
