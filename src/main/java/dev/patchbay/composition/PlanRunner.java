package dev.patchbay.composition;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import org.springframework.stereotype.Component;

import dev.patchbay.engine.TensorEngine;
import dev.patchbay.registry.Registry;
import dev.patchbay.storage.BlobPins;

/**
 * Plans recipes against their pinned inputs and runs the plans on the engine into live
 * outputs, the same way for a new result ({@link CompositionWorker}) and for a refill of
 * this instance's cache ({@link LocalResults}); and counts every run's time and bytes by
 * how it ended.
 */
@Component
class PlanRunner {

	private final Registry registry;

	private final Planner planner;

	private final TensorEngine engine;

	private final CompositionProperties properties;

	private final MeterRegistry meters;

	PlanRunner(Registry registry, Planner planner, TensorEngine engine, CompositionProperties properties,
			MeterRegistry meters) {
		this.registry = registry;
		this.planner = planner;
		this.engine = engine;
		this.properties = properties;
		this.meters = meters;
	}

	/**
	 * Plans a recipe with its inputs pinned until the returned plan is closed.
	 * @throws dev.patchbay.registry.ArtifactNotFoundException if an input was deleted
	 * @throws CompositionInvalidException listing every incompatibility
	 */
	Planned plan(Recipe recipe) {
		BlobPins pins = this.registry.pins();
		try {
			return new Planned(this.planner.plan(recipe, pins), pins);
		}
		catch (RuntimeException | Error ex) {
			pins.close();
			throw ex;
		}
	}

	/**
	 * A plan, with the pins on its inputs held until it has run.
	 *
	 * @param plan the plan
	 * @param pins the pins on the plan's inputs
	 */
	record Planned(Plan plan, BlobPins pins) implements AutoCloseable {

		@Override
		public void close() {
			this.pins.close();
		}

	}

	/**
	 * Runs a plan into a live output and finishes it.
	 * @return the result's digest
	 */
	String execute(Plan plan, ResultCache.Writer entry, LiveOutput output, PlanExecutor.Progress record)
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
	 * Composition duration and output bytes, by outcome; bytes per second follow from the
	 * two.
	 */
	void record(String outcome, long nanos, long bytes) {
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

}
