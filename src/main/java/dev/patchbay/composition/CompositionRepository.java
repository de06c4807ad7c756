package dev.patchbay.composition;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.UUID;

import org.springframework.data.jpa.repository.JpaRepository;
import org.springframework.data.jpa.repository.Modifying;
import org.springframework.data.jpa.repository.Query;
import org.springframework.transaction.annotation.Transactional;

interface CompositionRepository extends JpaRepository<Composition, UUID> {

	Optional<Composition> findByRecipeDigest(String recipeDigest);

	List<Composition> findByStatusIn(List<CompositionStatus> statuses);

	/**
	 * Claims a pending composition for one worker; returns 0 if another claimed it first.
	 */
	@Transactional
	@Modifying
	@Query("update Composition c set c.status = dev.patchbay.composition.CompositionStatus.RUNNING, c.startedAt = :now where c.id = :id and c.status = dev.patchbay.composition.CompositionStatus.PENDING")
	int claim(UUID id, Instant now);

	@Transactional
	@Modifying
	@Query("update Composition c set c.status = dev.patchbay.composition.CompositionStatus.PENDING where c.status = dev.patchbay.composition.CompositionStatus.RUNNING")
	int requeueRunning();

	@Transactional
	@Modifying
	@Query("update Composition c set c.tensorsDone = :tensors, c.bytesDone = :bytes where c.id = :id")
	void recordProgress(UUID id, int tensors, long bytes);

	@Query("select count(c) > 0 from Composition c where c.resultDigest = :digest")
	boolean holdsResult(String digest);

	@Query("""
			select distinct 'composition ' || cast(c.id as string) from Composition c left join c.terms t
			where c.baseModelId = :artifactId or t.patchId = :artifactId""")
	List<String> referencing(UUID artifactId);

}
