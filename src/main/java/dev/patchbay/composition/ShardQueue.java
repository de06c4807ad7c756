package dev.patchbay.composition;

import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

import dev.patchbay.storage.ShardLayout;

/**
 * The shards of sharded compositions as units of the shared queue: a unit is claimed by a
 * lease, as a whole composition is ({@link CompositionQueue}), renewed while it computes
 * and taken over by anyone once it lapses. A composition with units is never claimed
 * whole; it is running from its first claimed unit, and ready once all are in (made so by
 * the worker of the last one, or by a poller that finds it missed).
 */
@Component
class ShardQueue {

	private static final String CLAIMABLE = """
			(s.status = 'PENDING'
			 or (s.status = 'RUNNING' and s.heartbeat_at < now() - make_interval(secs => :leaseSeconds)))""";

	private final JdbcClient jdbc;

	private final CompositionQueue queue;

	private final double leaseSeconds;

	ShardQueue(JdbcClient jdbc, CompositionQueue queue, CompositionProperties properties) {
		this.jdbc = jdbc;
		this.queue = queue;
		this.leaseSeconds = properties.leaseTimeout().toMillis() / 1000.0;
	}

	/**
	 * One shard of one composition: its index in the layout and its output tensors
	 * {@code [from, to)} in plan order.
	 */
	record Unit(UUID compositionId, int index, int from, int to) {
	}

	/** A shard unit and the digest its bytes have once computed, or null before. */
	record State(Unit unit, String status, String digest) {

		boolean ready() {
			return this.status.equals("READY");
		}

	}

	/** Queues every shard of a new composition, in the transaction that stores it. */
	void create(UUID id, ShardLayout layout) {
		int from = 0;
		for (int index = 0; index < layout.shards().size(); index++) {
			int to = from + layout.shards().get(index).tensors().size();
			this.jdbc.sql("""
					insert into composition_shard (composition_id, shard_index, tensor_from, tensor_to, status)
					values (:id, :index, :from, :to, 'PENDING')""")
				.param("id", id)
				.param("index", index)
				.param("from", from)
				.param("to", to)
				.update();
			from = to;
		}
	}

	/** The composition's units, in order; empty if it is computed whole. */
	List<State> states(UUID id) {
		return this.jdbc.sql("""
				select composition_id, shard_index, tensor_from, tensor_to, status, digest
				from composition_shard where composition_id = :id order by shard_index""")
			.param("id", id)
			.query((row, number) -> new State(unit(row, number), row.getString("status"), row.getString("digest")))
			.list();
	}

	/**
	 * Claims the oldest claimable unit of a pending or running composition, and marks the
	 * composition running. {@code SKIP LOCKED} lets instances polling at the same moment
	 * take different units.
	 */
	Optional<Unit> claimNext() {
		Optional<Unit> unit = this.jdbc.sql("""
				update composition_shard t set status = 'RUNNING', claimed_by = :me, heartbeat_at = now()
				from (select s.composition_id, s.shard_index from composition_shard s
				      join composition c on c.id = s.composition_id
				      where c.status in ('PENDING', 'RUNNING') and""" + CLAIMABLE + """
				      order by c.created_at, s.shard_index limit 1 for update of s skip locked) next
				where t.composition_id = next.composition_id and t.shard_index = next.shard_index
				returning t.composition_id, t.shard_index, t.tensor_from, t.tensor_to""")
			.param("me", this.queue.instanceId())
			.param("leaseSeconds", this.leaseSeconds)
			.query(ShardQueue::unit)
			.optional();
		unit.ifPresent((claimed) -> started(claimed.compositionId()));
		return unit;
	}

	/**
	 * Claims this unit if it is pending or its lease lapsed, for a reader that wants it
	 * now.
	 */
	boolean claim(Unit unit) {
		boolean claimed = this.jdbc.sql("""
				update composition_shard s set status = 'RUNNING', claimed_by = :me, heartbeat_at = now()
				where s.composition_id = :id and s.shard_index = :index
				and exists (select 1 from composition c where c.id = s.composition_id
				            and c.status in ('PENDING', 'RUNNING')) and""" + CLAIMABLE)
			.param("me", this.queue.instanceId())
			.param("id", unit.compositionId())
			.param("index", unit.index())
			.param("leaseSeconds", this.leaseSeconds)
			.update() == 1;
		if (claimed) {
			started(unit.compositionId());
		}
		return claimed;
	}

	private void started(UUID id) {
		this.jdbc.sql("""
				update composition set status = 'RUNNING', started_at = coalesce(started_at, now())
				where id = :id and status = 'PENDING'""").param("id", id).update();
	}

	/** Renews the leases of the units this instance computes, of these compositions. */
	void renew(Collection<UUID> compositionIds) {
		if (!compositionIds.isEmpty()) {
			this.jdbc.sql("""
					update composition_shard set heartbeat_at = now()
					where claimed_by = :me and status = 'RUNNING' and composition_id in (:ids)""")
				.param("me", this.queue.instanceId())
				.param("ids", compositionIds)
				.update();
		}
	}

	/**
	 * Records a computed unit, if this instance still holds it, with the composition's
	 * progress.
	 * @return how many units of the composition are left, or -1 if the unit was not this
	 * instance's any more (its result is dropped: the other instance's stands)
	 */
	int complete(Unit unit, String digest, long bytes) {
		int recorded = this.jdbc.sql("""
				update composition_shard set status = 'READY', digest = :digest
				where composition_id = :id and shard_index = :index and claimed_by = :me and status = 'RUNNING'""")
			.param("digest", digest)
			.param("id", unit.compositionId())
			.param("index", unit.index())
			.param("me", this.queue.instanceId())
			.update();
		if (recorded == 0) {
			return -1;
		}
		this.jdbc.sql("""
				update composition set tensors_done = tensors_done + :tensors, bytes_done = bytes_done + :bytes
				where id = :id""")
			.param("tensors", unit.to() - unit.from())
			.param("bytes", bytes)
			.param("id", unit.compositionId())
			.update();
		return this.jdbc.sql("select count(*) from composition_shard where composition_id = :id and status <> 'READY'")
			.param("id", unit.compositionId())
			.query(Integer.class)
			.single();
	}

	/**
	 * Of these compositions, those that stopped (cancelled or failed, on any instance):
	 * their units computing here stop too.
	 */
	List<UUID> stoppedAmong(Collection<UUID> ids) {
		if (ids.isEmpty()) {
			return List.of();
		}
		return this.jdbc.sql("select id from composition where status in ('CANCELLED', 'FAILED') and id in (:ids)")
			.param("ids", ids)
			.query(UUID.class)
			.list();
	}

	/**
	 * Pending or running compositions whose units are all in: their last unit's worker
	 * did not finish them (its instance died in between), or they were queued again after
	 * a cancel that came as the last unit finished.
	 */
	List<UUID> finishable() {
		return this.jdbc
			.sql("""
					select c.id from composition c where c.status in ('PENDING', 'RUNNING')
					and exists (select 1 from composition_shard s where s.composition_id = c.id)
					and not exists (select 1 from composition_shard s where s.composition_id = c.id and s.status <> 'READY')""")
			.query(UUID.class)
			.list();
	}

	/** Hands a unit this instance holds back to the queue. */
	void release(Unit unit) {
		this.jdbc.sql("""
				update composition_shard set status = 'PENDING', claimed_by = null, heartbeat_at = null
				where composition_id = :id and shard_index = :index and claimed_by = :me and status = 'RUNNING'""")
			.param("id", unit.compositionId())
			.param("index", unit.index())
			.param("me", this.queue.instanceId())
			.update();
	}

	/** Hands this instance's running units back to the queue, at shutdown. */
	int releaseAll() {
		return this.jdbc.sql("""
				update composition_shard set status = 'PENDING', claimed_by = null, heartbeat_at = null
				where claimed_by = :me and status = 'RUNNING'""").param("me", this.queue.instanceId()).update();
	}

	private static Unit unit(ResultSet row, int number) throws SQLException {
		return new Unit(row.getObject("composition_id", UUID.class), row.getInt("shard_index"),
				row.getInt("tensor_from"), row.getInt("tensor_to"));
	}

}
