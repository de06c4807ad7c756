package dev.patchbay.inference;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Leases on the background work of this replica (sweeps, evaluations) in PostgreSQL: the
 * replica renews the lease of every row it holds, and a queued or running row whose lease
 * has lapsed belongs to a replica that is gone (killed, or cut off from the database), so
 * another replica claims it and takes it over. All times are the database's, so the
 * replicas' clocks need not agree.
 */
@Component
class Leases implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(Leases.class);

	/** The tables whose rows are leased; names are only ever these constants. */
	static final String SWEEP = "sweep";

	static final String EVALUATION = "evaluation";

	// A row written before leases existed has no heartbeat: its creation time stands in,
	// so it lapses one lease after it was created, whether or not an older replica still
	// runs it (such a replica never renews). A row handed back at shutdown has a
	// heartbeat of -infinity: lapsed at once.
	private static final String LAPSED = """
			status in ('queued', 'running')
			and coalesce(heartbeat_at, created_at) < now() - make_interval(secs => :leaseSeconds)""";

	private final JdbcClient jdbc;

	private final String instanceId;

	private final double leaseSeconds;

	private final long period;

	private final Map<String, Set<UUID>> held = Map.of(SWEEP, ConcurrentHashMap.newKeySet(), EVALUATION,
			ConcurrentHashMap.newKeySet());

	private final Map<String, Consumer<UUID>> takeOvers = new ConcurrentHashMap<>();

	private final ScheduledExecutorService ticker = Executors.newSingleThreadScheduledExecutor((task) -> {
		Thread thread = new Thread(task, "inference-leases");
		thread.setDaemon(true);
		return thread;
	});

	Leases(JdbcClient jdbc, InferenceProperties properties) {
		this.jdbc = jdbc;
		// The JVM name is pid@host: readable in the table, and unique per process start.
		this.instanceId = ManagementFactory.getRuntimeMXBean().getName() + "/"
				+ UUID.randomUUID().toString().substring(0, 8);
		this.leaseSeconds = properties.leaseTimeout().toMillis() / 1000.0;
		this.period = Math.max(1, properties.leaseTimeout().toMillis() / 3);
	}

	/**
	 * Starts renewing and taking over once the application is ready, not while it starts.
	 */
	@EventListener(ApplicationReadyEvent.class)
	void start() {
		this.ticker.scheduleWithFixedDelay(this::tick, this.period, this.period, TimeUnit.MILLISECONDS);
	}

	/** Who holds a row: written into {@code claimed_by} by the insert that starts it. */
	String instanceId() {
		return this.instanceId;
	}

	/**
	 * Names what this replica does with a row of the table whose lease lapsed, once it
	 * has claimed it; the row is held from then on, until the work releases it. It runs
	 * on the one thread that renews every lease, so it only hands the work to a worker.
	 */
	void onLapsed(String table, Consumer<UUID> takeOver) {
		this.takeOvers.put(table, takeOver);
	}

	/** Renews the row's lease from now on; its insert set the first heartbeat. */
	void hold(String table, UUID id) {
		this.held.get(table).add(id);
	}

	/** Stops renewing: the work is done, failed or handed back. */
	void release(String table, UUID id) {
		this.held.get(table).remove(id);
	}

	/** Work on a held row, run by a sweep's or evaluation's worker. */
	@FunctionalInterface
	interface Work {

		void run() throws IOException;

	}

	/**
	 * Runs work on a row this replica holds to its end, then releases the row: lost to
	 * another replica, the work stops without an outcome; failing, it is told to
	 * {@code failed}.
	 */
	void runHeld(String table, UUID id, Work work, BiConsumer<UUID, Exception> failed) {
		try {
			work.run();
		}
		catch (LeaseLostException ex) {
			logger.info("{} {} is held by another replica now; it goes on there, not here", table, id);
		}
		catch (IOException | RuntimeException ex) {
			failed.accept(id, ex);
		}
		finally {
			release(table, id);
		}
	}

	/**
	 * Checks what a write fenced by {@code claimed_by = :me} updated.
	 * @throws LeaseLostException if nothing: another replica holds the row now
	 */
	static void checkHeld(int updated) {
		if (updated == 0) {
			throw new LeaseLostException();
		}
	}

	/**
	 * Hands every queued or running row of the table this replica holds back, at
	 * shutdown: lapsed at once, so another replica takes it over without waiting a lease,
	 * and fenced, so whatever work here still runs writes nothing more. This replica
	 * takes none of the table's rows over from then on.
	 */
	synchronized void handBack(String table) {
		this.takeOvers.remove(table);
		this.held.get(table).clear();
		int rows = this.jdbc
			.sql("update " + table + " set claimed_by = null, heartbeat_at = '-infinity'"
					+ " where claimed_by = :me and status in ('queued', 'running')")
			.param("me", this.instanceId)
			.update();
		if (rows > 0) {
			logger.info("Handed {} {} rows back for another replica to take over", rows, table);
		}
	}

	// Synchronized with handBack, so that no tick claims a row as it is handed back.
	private synchronized void tick() {
		for (String table : this.held.keySet()) {
			// One failing table (or a database away for a moment) must not stop the
			// other's renewals, nor the ticker: the next tick tries again.
			try {
				renew(table);
				takeOverLapsed(table);
			}
			catch (RuntimeException ex) {
				logger.warn("Renewing or taking over {} leases failed; retrying at the next tick", table, ex);
			}
		}
	}

	private void renew(String table) {
		Set<UUID> ids = this.held.get(table);
		if (!ids.isEmpty()) {
			this.jdbc.sql("update " + table + " set heartbeat_at = now() where claimed_by = :me and id in (:ids)")
				.param("me", this.instanceId)
				.param("ids", List.copyOf(ids))
				.update();
		}
	}

	private void takeOverLapsed(String table) {
		Consumer<UUID> takeOver = this.takeOvers.get(table);
		if (takeOver == null) {
			return;
		}
		List<UUID> lapsed = this.jdbc.sql("select id from " + table + " where " + LAPSED + " order by created_at")
			.param("leaseSeconds", this.leaseSeconds)
			.query(UUID.class)
			.list();
		for (UUID id : lapsed) {
			// Claimed only if still lapsed: of replicas that saw it together, one wins.
			boolean claimed = this.jdbc
				.sql("update " + table + " set claimed_by = :me, heartbeat_at = now() where id = :id and " + LAPSED)
				.param("me", this.instanceId)
				.param("id", id)
				.param("leaseSeconds", this.leaseSeconds)
				.update() == 1;
			if (claimed) {
				logger.info("Taking over {} {}: the lease of its replica lapsed", table, id);
				hold(table, id);
				try {
					takeOver.accept(id);
				}
				catch (RuntimeException ex) {
					// Not taken up after all: released, it lapses again and is tried
					// later; the rest of the list is still taken over.
					release(table, id);
					logger.warn("Taking over {} {} failed; its lease lapses again", table, id, ex);
				}
			}
		}
	}

	@Override
	public void close() {
		this.ticker.shutdownNow();
	}

}
