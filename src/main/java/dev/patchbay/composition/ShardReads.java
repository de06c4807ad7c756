package dev.patchbay.composition;

import java.io.IOException;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import org.springframework.stereotype.Component;

/**
 * Reads one shard of a sharded composition here, waiting for that shard alone: from this
 * instance's cache, from its worker as it writes it, or computed here at once when no
 * instance has started it (its unit claimed for this reader, so nobody computes it
 * twice). A unit ready on another instance is recomputed here and checked against the
 * digest that instance recorded.
 */
@Component
class ShardReads {

	private final ShardQueue shards;

	private final ShardWorker worker;

	private final CompositionScheduler scheduler;

	private final ResultCache cache;

	private final CompositionRepository compositions;

	/** Units ready elsewhere being recomputed here, by cache key; its own lock. */
	private final Map<String, LiveOutput> refills = new HashMap<>();

	ShardReads(ShardQueue shards, ShardWorker worker, CompositionScheduler scheduler, ResultCache cache,
			CompositionRepository compositions) {
		this.shards = shards;
		this.compositions = compositions;
		this.worker = worker;
		this.scheduler = scheduler;
		this.cache = cache;
	}

	/**
	 * Pins the file of the composition's unit that holds output tensors
	 * {@code [from, to)}: exactly that shard, header included, of {@code size} bytes.
	 * @return the pinned file; empty if the composition has no such unit (it is computed
	 * whole, or its units were cut at another shard size), or it failed or was cancelled
	 * (before or while this waits), for the caller to read it whole or answer that; null
	 * if the deadline passed first
	 * @throws IOException if computing it failed, here or as a recompute that did not
	 * match the recorded digest
	 * @throws dev.patchbay.shared.ServiceBusyException if the unit must be computed here
	 * and every worker is busy
	 */
	Optional<ResultCache.Handle> await(Composition composition, int from, int to, long size, long deadlineNanos)
			throws IOException, InterruptedException {
		long pause = 25;
		while (true) {
			Optional<ShardQueue.State> found = unit(composition, from, to);
			if (found.isEmpty()) {
				return Optional.empty();
			}
			ShardQueue.State state = found.get();
			String key = ShardWorker.key(composition.getRecipeDigest(), state.unit());
			Optional<ResultCache.Handle> pinned = state.ready() ? this.cache.open(key, state.digest())
					: Optional.empty();
			if (pinned.isPresent()) {
				return pinned;
			}
			Optional<LiveOutput> output = state.ready() ? Optional.of(refill(composition, state, key, size))
					: this.worker.live(state.unit());
			if (output.isPresent()) {
				Optional<ResultCache.Handle> pin = output.get().pin();
				if (pin.isPresent()) {
					return finished(output.get(), pin.get(), deadlineNanos);
				}
				// Finished and evicted in between: look again.
			}
			else if (this.shards.claim(state.unit())) {
				this.scheduler.compute(state.unit());
			}
			if (System.nanoTime() > deadlineNanos) {
				return null;
			}
			// Claimed here and queued, or being computed on another instance: look again,
			// less often the longer it takes.
			Thread.sleep(pause);
			pause = Math.min(2 * pause, 1000);
		}
	}

	private Optional<ShardQueue.State> unit(Composition composition, int from, int to) {
		// Read again on every look: a composition that fails or is cancelled meanwhile
		// is answered by the caller, from its whole result's path.
		CompositionStatus status = this.compositions.findStatus(composition.getId()).orElse(null);
		if (status == null || (!status.isActive() && status != CompositionStatus.READY)) {
			return Optional.empty();
		}
		List<ShardQueue.State> states = this.shards.states(composition.getId());
		return states.stream().filter((state) -> state.unit().from() == from && state.unit().to() == to).findFirst();
	}

	/**
	 * Waits for a pinned output's last byte.
	 * @return the pin, or null (released) if the deadline passed first
	 */
	private static Optional<ResultCache.Handle> finished(LiveOutput output, ResultCache.Handle pin, long deadlineNanos)
			throws IOException, InterruptedException {
		boolean finished;
		try {
			finished = output.awaitFinished(deadlineNanos);
		}
		catch (IOException | InterruptedException | RuntimeException ex) {
			pin.close();
			throw ex;
		}
		if (!finished) {
			pin.close();
			return null;
		}
		return Optional.of(pin);
	}

	private LiveOutput refill(Composition composition, ShardQueue.State state, String key, long size)
			throws IOException {
		synchronized (this.refills) {
			LiveOutput running = this.refills.get(key);
			if (running != null) {
				return running;
			}
			ShardQueue.Unit unit = state.unit();
			ResultCache.Writer entry = this.cache.write(key, size);
			LiveOutput output = new LiveOutput(entry, state.digest());
			this.refills.put(key, output);
			try {
				this.scheduler.refill(composition.getId(), () -> {
					try {
						this.worker.recompute(composition, unit, entry, output);
					}
					finally {
						synchronized (this.refills) {
							this.refills.remove(key);
						}
					}
				});
			}
			catch (RuntimeException ex) {
				this.refills.remove(key);
				entry.close();
				throw ex;
			}
			return output;
		}
	}

}
