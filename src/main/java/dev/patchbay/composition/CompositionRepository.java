package dev.patchbay.composition;

import java.util.List;
import java.util.Optional;
import java.util.UUID;

import jakarta.persistence.LockModeType;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.Pageable;
import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.Lock;
import org.springframework.data.jpa.repository.Modifying;
import org.springframework.data.jpa.repository.Query;
import org.springframework.transaction.annotation.Transactional;

interface CompositionRepository extends JpaRepository<Composition, UUID> {

	Optional<Composition> findByRecipeDigest(String recipeDigest);

	Page<Composition> findByStatus(CompositionStatus status, Pageable pageable);

	long countByStatus(CompositionStatus status);

	/** Locks the row, so a result is recorded only while its lease is still held. */
	@Lock(LockModeType.PESSIMISTIC_WRITE)
	@Query("select c from Composition c where c.id = :id")
	Optional<Composition> lockById(UUID id);

	@Transactional
	@Modifying
	@Query("update Composition c set c.tensorsDone = :tensors, c.bytesDone = :bytes where c.id = :id")
	void recordProgress(UUID id, int tensors, long bytes);

	/**
	 * Records a sharded composition's result digest, known only once its whole file is
	 * recomputed whole here; the first one recorded stands.
	 */
	@Transactional
	@Modifying
	@Query("update Composition c set c.resultDigest = :digest where c.id = :id and c.resultDigest is null")
	void recordResultDigest(UUID id, String digest);

	@Query("select c.status from Composition c where c.id = :id")
	Optional<CompositionStatus> findStatus(UUID id);

	@Query("select count(c) > 0 from Composition c where c.resultDigest = :digest")
	boolean holdsResult(String digest);

	@Query("""
			select distinct 'composition ' || cast(c.id as string) from Composition c left join c.terms t
			where c.baseModelId = :artifactId or t.patchId = :artifactId or t.modelId = :artifactId""")
	List<String> referencing(UUID artifactId);

}
