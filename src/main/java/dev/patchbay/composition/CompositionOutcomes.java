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
		Boolean recorded = this.transactions.execute((status) -> {
			Composition current = this.compositions.lockById(id).orElse(null);
			if (current != null && current.getStatus() == CompositionStatus.CANCELLED) {
				return false;
			}
			if (current == null || current.getStatus() != CompositionStatus.RUNNING
					|| !this.queue.instanceId().equals(current.getClaimedBy())) {
				logger.warn("Composition {} was taken over by another instance; dropping this result", id);
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
