package dev.patchbay.registry;

import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.slf4j.MDC;

import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * The name side of the registry: version numbers per name, aliases that point at one
 * version of a name, and the record of changes made to an artifact after registration.
 * Plain SQL: these are small keyed rows beside the artifact entity, not part of it.
 */
@Component
class Names {

	private final JdbcClient jdbc;

	Names(JdbcClient jdbc) {
		this.jdbc = jdbc;
	}

	/**
	 * The next version number of a name. Holds a lock on the name until the transaction
	 * ends, so that two registrations of one name at once get consecutive numbers rather
	 * than one of them a conflict.
	 */
	int nextNumber(ArtifactType type, String name) {
		// The two-key form: its key space does not overlap the blob locks' single keys.
		this.jdbc.sql("select pg_advisory_xact_lock(1, hashtext(:key))")
			.param("key", type.name() + ":" + name)
			.query()
			.listOfRows();
		return this.jdbc
			.sql("select coalesce(max(version_number), 0) + 1 from artifact where type = :type and name = :name")
			.param("type", type.name())
			.param("name", name)
			.query(Integer.class)
			.single();
	}

	/** The artifact an alias of a name points at. */
	Optional<UUID> alias(ArtifactType type, String name, String alias) {
		return this.jdbc
			.sql("select artifact_id from artifact_alias where type = :type and name = :name and alias = :alias")
			.param("type", type.name())
			.param("name", name)
			.param("alias", alias)
			.query(UUID.class)
			.optional();
	}

	/** A name's aliases, by alias. */
	List<ArtifactAlias> aliases(ArtifactType type, String name) {
		return this.jdbc.sql("""
				select l.alias, l.artifact_id, a.version, l.updated_at from artifact_alias l
				join artifact a on a.id = l.artifact_id
				where l.type = :type and l.name = :name order by l.alias""")
			.param("type", type.name())
			.param("name", name)
			.query((rs, row) -> new ArtifactAlias(rs.getString(1), rs.getObject(2, UUID.class), rs.getString(3),
					rs.getTimestamp(4).toInstant()))
			.list();
	}

	/**
	 * The aliases pointing at each of the artifacts, sorted; artifacts without any are
	 * absent.
	 */
	Map<UUID, List<String>> aliasesOf(Collection<UUID> artifactIds) {
		Map<UUID, List<String>> aliases = new HashMap<>();
		if (artifactIds.isEmpty()) {
			return aliases;
		}
		this.jdbc.sql("select artifact_id, alias from artifact_alias where artifact_id in (:ids) order by alias")
			.param("ids", artifactIds)
			.query((rs) -> {
				aliases.computeIfAbsent(rs.getObject(1, UUID.class), (id) -> new ArrayList<>()).add(rs.getString(2));
			});
		return aliases;
	}

	/**
	 * Points an alias at an artifact, locking the alias's row until the transaction ends.
	 * @return the artifact it pointed at before, if any
	 */
	Optional<UUID> setAlias(ArtifactType type, String name, String alias, UUID artifactId) {
		Optional<UUID> previous = this.jdbc.sql("""
				select artifact_id from artifact_alias where type = :type and name = :name and alias = :alias
				for update""")
			.param("type", type.name())
			.param("name", name)
			.param("alias", alias)
			.query(UUID.class)
			.optional();
		this.jdbc.sql("""
				insert into artifact_alias (type, name, alias, artifact_id, updated_at)
				values (:type, :name, :alias, :id, :now)
				on conflict (type, name, alias) do update set artifact_id = excluded.artifact_id,
				updated_at = excluded.updated_at""")
			.param("type", type.name())
			.param("name", name)
			.param("alias", alias)
			.param("id", artifactId)
			.param("now", Timestamp.from(Instant.now()))
			.update();
		return previous;
	}

	/**
	 * Removes an alias.
	 * @return the artifact it pointed at, if it existed
	 */
	Optional<UUID> deleteAlias(ArtifactType type, String name, String alias) {
		return this.jdbc.sql("""
				delete from artifact_alias where type = :type and name = :name and alias = :alias
				returning artifact_id""")
			.param("type", type.name())
			.param("name", name)
			.param("alias", alias)
			.query(UUID.class)
			.optional();
	}

	/**
	 * Records a change to an artifact, with the role and request id of the request that
	 * made it (from the logging context the API filters fill).
	 * @param changes the change as JSON
	 */
	void recordChange(UUID artifactId, String changes) {
		this.jdbc.sql("""
				insert into artifact_change (id, artifact_id, changed_at, role, request_id, changes)
				values (:id, :artifact, :now, :role, :request, :changes)""")
			.param("id", UUID.randomUUID())
			.param("artifact", artifactId)
			.param("now", Timestamp.from(Instant.now()))
			.param("role", MDC.get("role"))
			.param("request", MDC.get("requestId"))
			.param("changes", changes)
			.update();
	}

	/** An artifact's changes, oldest first. */
	List<ArtifactChange> changes(UUID artifactId) {
		return this.jdbc.sql("""
				select changed_at, role, request_id, changes from artifact_change
				where artifact_id = :id order by changed_at, id""")
			.param("id", artifactId)
			.query((rs, row) -> new ArtifactChange(rs.getTimestamp(1).toInstant(), rs.getString(2), rs.getString(3),
					rs.getString(4)))
			.list();
	}

}
