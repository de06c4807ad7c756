package dev.patchbay.composition;

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

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Component;

import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.ServiceBusyException;
import dev.patchbay.storage.ShardLayout;

/**
 * Computes compositions on a bounded pool of workers. The database is the queue
 * ({@link CompositionQueue}): a worker claims a composition atomically and holds it by a
 * renewed lease, so a recipe is computed once however many requests or instances name it,
 * and a composition whose instance died is taken over once its lease expires. A sharded
 * composition is claimed unit by unit ({@link ShardQueue}), the same way, so that every
 * instance with an idle worker takes a part of it.
 */
@Component
class CompositionScheduler implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(CompositionScheduler.class);

	private final CompositionQueue queue;

	private final CompositionWorker worker;

	private final ShardQueue shards;

	private final ShardWorker shardWorker;

	private final CompositionProperties properties;

	private final ThreadPoolExecutor workers;

	private final ScheduledExecutorService poller;

	/** Compositions this instance holds leases on. */
	private final Set<UUID> claimed = ConcurrentHashMap.newKeySet();

	/** Shard units this instance holds leases on. */
	private final Set<ShardQueue.Unit> claimedUnits = ConcurrentHashMap.newKeySet();

	private volatile boolean closing;

	CompositionScheduler(CompositionQueue queue, CompositionWorker worker, ShardQueue shards, ShardWorker shardWorker,
			CompositionProperties properties) {
		this.queue = queue;
		this.worker = worker;
		this.shards = shards;
		this.shardWorker = shardWorker;
		this.properties = properties;
		// Bounded: a task refused here waits in the database's queue instead.
		this.workers = new ThreadPoolExecutor(properties.workers(), properties.workers(), 0, TimeUnit.MILLISECONDS,
				new ArrayBlockingQueue<>(4 * properties.workers() + 16), (task) -> {
					Thread thread = new Thread(task, "composition-worker");
					thread.setDaemon(true);
					return thread;
				});
		this.poller = Executors.newSingleThreadScheduledExecutor((task) -> {
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
		this.poller.scheduleWithFixedDelay(this::claimWhileIdle, 0, poll, TimeUnit.MILLISECONDS);
		long renew = this.properties.leaseTimeout().toMillis() / 3;
		this.poller.scheduleWithFixedDelay(this::renewLeases, renew, renew, TimeUnit.MILLISECONDS);
	}

	/** Asks for a composition just created here to be computed soon. */
	void submit(UUID id) {
		try {
			this.workers.execute(() -> {
				if (this.queue.claim(id)) {
					run(id);
				}
				else {
					// Claimed elsewhere already, or sharded: then its units go to this
					// instance's idle workers now, claimed on the poller's thread as
					// every claim is.
					pollSoon();
				}
			});
		}
		catch (RejectedExecutionException ex) {
			// Busy: it stays pending, and the poller claims it when a worker is free.
		}
	}

	/**
	 * Recomputes a ready composition's result on a worker, to refill this instance's
	 * cache.
	 * @throws ServiceBusyException if every worker is busy and their queue is full
	 */
	void refill(UUID id, Runnable recompute) {
		try {
			this.workers.execute(recompute);
		}
		catch (RejectedExecutionException ex) {
			throw new ServiceBusyException(ProblemKind.COMPOSITIONS_BUSY,
					"every composition worker is busy, and composition " + id
							+ " must be recomputed to be read here; try again later",
					this.properties.pollInterval().multipliedBy(5), Map.of("id", id.toString()));
		}
	}

	/**
	 * Queues a new composition's shards as units, in the transaction that stores it.
	 */
	void queueUnits(UUID id, ShardLayout layout) {
		this.shards.create(id, layout);
	}

	/**
	 * Tells whatever computes a cancelled composition here (its worker or its units') to
	 * stop at the next chunk.
	 */
	void cancelled(UUID id) {
		this.worker.cancelled(id);
		this.shardWorker.cancelled(id);
	}

	/**
	 * Computes a unit this instance has just claimed for a reader.
	 * @throws ServiceBusyException if every worker is busy and their queue is full; the
	 * unit goes back to the queue
	 */
	void compute(ShardQueue.Unit unit) {
		this.claimedUnits.add(unit);
		try {
			this.workers.execute(() -> run(unit));
		}
		catch (RejectedExecutionException ex) {
			this.claimedUnits.remove(unit);
			this.shards.release(unit);
			throw new ServiceBusyException(ProblemKind.COMPOSITIONS_BUSY,
					"every composition worker is busy, and shard " + (unit.index() + 1) + " of composition "
							+ unit.compositionId() + " must be computed to be read; try again later",
					this.properties.pollInterval().multipliedBy(5), Map.of("id", unit.compositionId().toString()));
		}
	}

	/** Whether this instance is shutting down, its workers interrupted. */
	boolean closing() {
		return this.closing;
	}

	/** Claims work on the poller's thread now, rather than at its next poll. */
	private void pollSoon() {
		try {
			this.poller.execute(this::claimWhileIdle);
		}
		catch (RejectedExecutionException ex) {
			// Shutting down: nothing more is claimed here.
		}
	}

	private void claimWhileIdle() {
		try {
			// Before claiming: a sharded composition whose units are all in but that no
			// worker finished is finished here.
			this.shards.finishable().forEach(this.shardWorker::finished);
			while (this.claimed.size() + this.claimedUnits.size() < this.properties.workers()
					&& this.workers.getQueue().remainingCapacity() > 0) {
				Optional<UUID> next = this.queue.claimNext();
				if (next.isPresent()) {
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
					continue;
				}
				Optional<ShardQueue.Unit> unit = this.shards.claimNext();
				if (unit.isEmpty()) {
					return;
				}
				this.claimedUnits.add(unit.get());
				try {
					this.workers.execute(() -> run(unit.get()));
				}
				catch (RejectedExecutionException ex) {
					this.claimedUnits.remove(unit.get());
					this.shards.release(unit.get());
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
			this.queue.cancelledAmong(claimed).forEach(this.worker::cancelled);
			List<UUID> sharded = this.claimedUnits.stream().map(ShardQueue.Unit::compositionId).distinct().toList();
			this.shards.renew(sharded);
			this.shards.stoppedAmong(sharded).forEach(this.shardWorker::cancelled);
		}
		catch (RuntimeException ex) {
			logger.warn("Could not renew composition leases", ex);
		}
	}

	/** Computes a composition this instance has claimed, holding its lease meanwhile. */
	private void run(UUID id) {
		this.claimed.add(id);
		try {
			this.worker.compute(id);
		}
		finally {
			this.claimed.remove(id);
		}
	}

	/** Computes a shard unit this instance has claimed, holding its lease meanwhile. */
	private void run(ShardQueue.Unit unit) {
		this.claimedUnits.add(unit);
		try {
			this.shardWorker.compute(unit);
		}
		finally {
			this.claimedUnits.remove(unit);
		}
	}

	/**
	 * Stops the workers and hands their compositions back to the queue, so another
	 * instance (or this one, restarted) takes them up without waiting for the lease to
	 * expire.
	 */
	@Override
	public void close() throws InterruptedException {
		this.closing = true;
		this.worker.stop();
		this.shardWorker.stop();
		this.poller.shutdownNow();
		this.workers.shutdownNow();
		this.workers.awaitTermination(10, TimeUnit.SECONDS);
		int released = this.queue.releaseAll() + this.shards.releaseAll();
		if (released > 0) {
			logger.info("Released {} unfinished composition(s) to the queue", released);
		}
	}

}
