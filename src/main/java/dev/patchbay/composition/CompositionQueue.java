package dev.patchbay.composition;

import java.lang.management.ManagementFactory;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The composition table as a job queue shared by every instance. A claim is a lease: the
 * claiming instance renews it while it computes, and a lease that has not been renewed
 * for {@code leaseTimeout} (its instance was killed or cut off) may be claimed by anyone.
 * All times are the database's, so instances' clocks need not agree.
 */
@Component
class CompositionQueue {

	// A sharded composition is claimed shard by shard (ShardQueue), never whole.
	private static final String CLAIMABLE = """
			(status = 'PENDING'
			 or (status = 'RUNNING' and heartbeat_at < now() - make_interval(secs => :leaseSeconds)))
			and not exists (select 1 from composition_shard s where s.composition_id = composition.id)""";

	private static final String CLAIM = """
			update composition set status = 'RUNNING', claimed_by = :me, heartbeat_at = now(), started_at = now()
			""";

	private final JdbcClient jdbc;

	private final String instanceId;

	private final double leaseSeconds;

	CompositionQueue(JdbcClient jdbc, CompositionProperties properties) {
		this.jdbc = jdbc;
		// The JVM name is pid@host: readable in the table, and unique per process start.
		this.instanceId = ManagementFactory.getRuntimeMXBean().getName() + "/"
				+ UUID.randomUUID().toString().substring(0, 8);
		this.leaseSeconds = properties.leaseTimeout().toMillis() / 1000.0;
	}

	String instanceId() {
		return this.instanceId;
	}

	/** Claims this composition if it is pending or its lease has expired. */
	boolean claim(UUID id) {
		return this.jdbc.sql(CLAIM + "where id = :id and" + CLAIMABLE)
			.param("me", this.instanceId)
			.param("id", id)
			.param("leaseSeconds", this.leaseSeconds)
			.update() == 1;
	}

	/**
	 * Claims the oldest claimable composition. {@code SKIP LOCKED} lets instances polling
	 * at the same moment take different rows instead of queueing on one.
	 */
	Optional<UUID> claimNext() {
		return this.jdbc.sql(CLAIM + "where id = (select id from composition where" + CLAIMABLE + """
				 order by created_at limit 1 for update skip locked)
				returning id""")
			.param("me", this.instanceId)
			.param("leaseSeconds", this.leaseSeconds)
			.query(UUID.class)
			.optional();
	}

	/** Renews the leases of the compositions this instance is computing. */
	void renew(Collection<UUID> ids) {
		if (!ids.isEmpty()) {
			this.jdbc.sql("update composition set heartbeat_at = now() where claimed_by = :me and id in (:ids)")
				.param("me", this.instanceId)
				.param("ids", ids)
				.update();
		}
	}

	/** Which of these compositions were cancelled, on any instance. */
	List<UUID> cancelledAmong(Collection<UUID> ids) {
		if (ids.isEmpty()) {
			return List.of();
		}
		return this.jdbc.sql("select id from composition where status = 'CANCELLED' and id in (:ids)")
			.param("ids", ids)
			.query(UUID.class)
			.list();
	}

	/** Hands one claimed composition back to the queue. */
	void release(UUID id) {
		this.jdbc.sql("""
				update composition set status = 'PENDING', claimed_by = null, heartbeat_at = null
				where id = :id and claimed_by = :me and status = 'RUNNING'""")
			.param("id", id)
			.param("me", this.instanceId)
			.update();
	}

	/** Hands this instance's running compositions back to the queue, at shutdown. */
	int releaseAll() {
		return this.jdbc.sql("""
				update composition set status = 'PENDING', claimed_by = null, heartbeat_at = null
				where claimed_by = :me and status = 'RUNNING'""").param("me", this.instanceId).update();
	}

}
