package dev.patchbay.api;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import tools.jackson.databind.JsonNode;

import dev.patchbay.composition.CompositionSummary;

/**
 * A composition as the API shows it: the summary with its stored JSON (the problem of a
 * failure, the audit acknowledgement) inlined as objects, the status by its wire name and
 * a slice source's layers as one {@code layerRange}.
 *
 * @param id the composition id
 * @param recipeDigest identifies the result: identical recipes share it
 * @param status pending, running, ready, failed or cancelled
 * @param progress tensors and bytes done so far
 * @param baseModelId the base model
 * @param terms the patches and weights
 * @param method the merge method
 * @param materialize whether the result is registered as a model
 * @param resultModelId the materialized model, once there is one
 * @param error the problem that made it fail, else null
 * @param createdAt when it was requested
 * @param startedAt when computing started
 * @param finishedAt when it became ready, failed or was cancelled
 * @param resultName the name its result is registered under, if the request gave one
 * @param auditAcknowledgement the flagged audit findings an admin acknowledged to compose
 * it, with when; null when no patch of it was flagged
 */
record CompositionView(UUID id, String recipeDigest, String status, Progress progress, UUID baseModelId,
		List<Term> terms, String method, boolean materialize, UUID resultModelId, JsonNode error, Instant createdAt,
		Instant startedAt, Instant finishedAt, String resultName, JsonNode auditAcknowledgement) {

	static CompositionView of(CompositionSummary composition) {
		return new CompositionView(composition.id(), composition.recipeDigest(), composition.status().wireName(),
				Progress.of(composition.progress()), composition.baseModelId(),
				composition.terms().stream().map(Term::of).toList(), composition.method(), composition.materialize(),
				composition.resultModelId(), Responses.storedJson(composition.error()), composition.createdAt(),
				composition.startedAt(), composition.finishedAt(), composition.resultName(),
				Responses.storedJson(composition.auditAcknowledgement()));
	}

	/**
	 * How far the computation is.
	 *
	 * @param tensorsDone output tensors written
	 * @param tensorsTotal output tensors in all
	 * @param bytesDone output bytes written
	 * @param bytesTotal size of the output file
	 */
	record Progress(int tensorsDone, int tensorsTotal, long bytesDone, long bytesTotal) {

		static Progress of(CompositionSummary.Progress progress) {
			return new Progress(progress.tensorsDone(), progress.tensorsTotal(), progress.bytesDone(),
					progress.bytesTotal());
		}

	}

	/**
	 * One term.
	 *
	 * @param patchId the patch, or null for a whole model
	 * @param weight its weight
	 * @param modelId the whole model, or null for a patch
	 * @param slice for a source of a slices recipe, its slice; else null
	 * @param layerRange for a source of a slices recipe, [from, to); else null
	 */
	record Term(UUID patchId, double weight, UUID modelId, Integer slice, List<Integer> layerRange) {

		static Term of(CompositionSummary.Term term) {
			return new Term(term.patchId(), term.weight(), term.modelId(), term.slice(),
					(term.slice() != null) ? List.of(term.layerFrom(), term.layerTo()) : null);
		}

	}

}
