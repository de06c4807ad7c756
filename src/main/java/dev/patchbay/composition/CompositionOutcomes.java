package dev.patchbay.composition;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.events.EventType;
import dev.patchbay.events.Events;
import dev.patchbay.shared.ProblemBodies;
import dev.patchbay.shared.ProblemKind;

/**
 * Stores how computing a composition ended, in its row and as the event every replica
 * streams, but only while this instance still holds the composition's lease.
 */
@Component
class CompositionOutcomes {

	private static final Logger logger = LoggerFactory.getLogger(CompositionOutcomes.class);

	private final CompositionRepository compositions;

	private final TransactionTemplate transactions;

	private final CompositionQueue queue;

	private final Events events;

	private final JsonMapper json;

	private final ProblemBodies problems;

	CompositionOutcomes(CompositionRepository compositions, TransactionTemplate transactions, CompositionQueue queue,
			Events events, JsonMapper json, ProblemBodies problems) {
		this.compositions = compositions;
		this.problems = problems;
		this.transactions = transactions;
		this.queue = queue;
		this.events = events;
		this.json = json;
	}

	/**
	 * Records an outcome if this instance still holds the composition's lease. A lease
	 * lost to another instance (this one stalled past the timeout) means the other
	 * instance's result stands and this one's is dropped.
	 * @return whether the outcome was recorded
	 */
	boolean finish(UUID id, Outcome outcome) {
		return finish(id, true, outcome);
	}

	/**
	 * Records the outcome of a sharded composition, which no instance holds whole: its
	 * units' leases decided who computed what, and it is still running or not.
	 * @return whether the outcome was recorded
	 */
	boolean finishSharded(UUID id, Outcome outcome) {
		return finish(id, false, outcome);
	}

	/** Records a sharded composition's failure, as a stored problem, while it runs. */
	void failedSharded(UUID id, Exception ex) {
		String error = problemJson(ex);
		finishSharded(id, (current) -> current.failed(error));
	}

	/**
	 * Materializes a ready composition that asked for it while it was computed shard by
	 * shard, under the row's lock as any materialization is, recording the whole file's
	 * digest with it.
	 */
	void materializeReady(UUID id, Materializing materializing) {
		this.transactions.executeWithoutResult((status) -> {
			Composition current = this.compositions.lockById(id).orElse(null);
			if (current == null || current.getStatus() != CompositionStatus.READY
					|| current.getResultModelId() != null) {
				return;
			}
			try {
				LocalResults.Materialized materialized = materializing.materialize(current);
				current.materialized(materialized.modelId());
				current.resultDigestKnown(materialized.digest());
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
		});
	}

	/**
	 * Records that a ready composition's materialization failed, so that it is retried.
	 */
	void materializationFailed(UUID id) {
		this.transactions.executeWithoutResult((status) -> this.compositions.lockById(id)
			.filter((current) -> current.getStatus() == CompositionStatus.READY && current.getResultModelId() == null)
			.ifPresent(Composition::materializationFailed));
	}

	/** Recomputes a composition's whole result here and registers it as a model. */
	@FunctionalInterface
	interface Materializing {

		LocalResults.Materialized materialize(Composition composition) throws IOException;

	}

	private boolean finish(UUID id, boolean leased, Outcome outcome) {
		Boolean recorded = this.transactions.execute((status) -> {
			Composition current = this.compositions.lockById(id).orElse(null);
			if (current != null && current.getStatus() == CompositionStatus.CANCELLED) {
				return false;
			}
			// A sharded one is finished by whoever finds its units all in, running or
			// pending again (after a cancel and a new request); a whole one only by the
			// holder of its lease.
			boolean ours = (current != null)
					&& (leased
							? current.getStatus() == CompositionStatus.RUNNING
									&& this.queue.instanceId().equals(current.getClaimedBy())
							: current.getStatus().isActive());
			if (!ours) {
				if (leased) {
					logger.warn("Composition {} was taken over by another instance; dropping this result", id);
				}
				else {
					logger.info("Composition {} is no longer running; dropping this outcome", id);
				}
				return false;
			}
			try {
				outcome.apply(current);
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
			// Under the row's lock and in the transaction that records the outcome: the
			// event is there exactly when the status is, for every replica's stream.
			publishOutcome(current);
			return true;
		});
		return Boolean.TRUE.equals(recorded);
	}

	/** Records a failure, as a stored problem, if this instance still holds the lease. */
	void failed(UUID id, Exception ex) {
		String error = problemJson(ex);
		finish(id, (current) -> current.failed(error));
	}

	private void publishOutcome(Composition composition) {
		Map<String, Object> data = new LinkedHashMap<>();
		data.put("compositionId", composition.getId());
		data.put("recipeDigest", composition.getRecipeDigest());
		if (composition.getStatus() == CompositionStatus.READY) {
			data.put("resultDigest", composition.getResultDigest());
			data.put("resultModelId", composition.getResultModelId());
			this.events.publish(EventType.COMPOSITION_READY, data, composition.getId());
		}
		else if (composition.getStatus() == CompositionStatus.FAILED) {
			data.put("error", (composition.getError() != null) ? this.json.readTree(composition.getError()) : null);
			this.events.publish(EventType.COMPOSITION_FAILED, data, composition.getId());
		}
	}

	private String problemJson(Exception ex) {
		return this.json.writeValueAsString(this.problems.of(ex, ProblemKind.COMPOSITION_FAILED));
	}

	/** What a finished computation does to its composition, under the row's lock. */
	@FunctionalInterface
	interface Outcome {

		void apply(Composition composition) throws IOException;

	}

}
