package dev.patchbay.registry;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

import jakarta.persistence.LockModeType;

import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.Lock;
import org.springframework.data.jpa.repository.JpaSpecificationExecutor;
import org.springframework.data.jpa.repository.Query;

interface ArtifactRepository extends JpaRepository<Artifact, UUID>, JpaSpecificationExecutor<Artifact> {

	Optional<Artifact> findByIdAndType(UUID id, ArtifactType type);

	@Lock(LockModeType.PESSIMISTIC_WRITE)
	@Query("select a from Artifact a where a.id = :id and a.type = :type")
	Optional<Artifact> lockByIdAndType(UUID id, ArtifactType type);

	@Query("""
			select a.id from Artifact a
			where a.type = :type and a.name = :name
			and (a.version = :version or (a.version is null and cast(:version as string) is null))""")
	Optional<UUID> idWithNameAndVersion(ArtifactType type, String name, String version);

	/**
	 * Refuses a name and version that an artifact of the type has.
	 * @throws ArtifactConflictException naming the existing artifact
	 */
	default void requireNameFree(ArtifactType type, String name, String version, String field) {
		Optional<UUID> existing = idWithNameAndVersion(type, name, version);
		if (existing.isPresent()) {
			throw ArtifactConflictException.alreadyExists(type, name, version, field, existing.get());
		}
	}

	@Query("""
			select distinct a.name from Artifact a left join a.lineage l
			where a.baseModelId = :id or l.sourceId = :id""")
	List<String> namesDerivedFrom(UUID id);

	Optional<Artifact> findFirstByTypeAndNameOrderByVersionNumberDesc(ArtifactType type, String name);

	Optional<Artifact> findByTypeAndNameAndVersion(ArtifactType type, String name, String version);

	Optional<Artifact> findByTypeAndNameAndVersionNumber(ArtifactType type, String name, int versionNumber);

	boolean existsByTypeAndName(ArtifactType type, String name);

	@Query("select count(a) > 0 from Artifact a join a.files f where f.digest = :digest")
	boolean isBlobReferenced(String digest);

}
