package dev.patchbay.composition;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import tools.jackson.databind.JsonNode;

/**
 * A composition as the API shows it.
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
public record CompositionView(UUID id, String recipeDigest, CompositionStatus status, Progress progress,
		UUID baseModelId, List<Term> terms, String method, boolean materialize, UUID resultModelId, JsonNode error,
		Instant createdAt, Instant startedAt, Instant finishedAt, String resultName, JsonNode auditAcknowledgement) {

	/**
	 * How far the computation is.
	 *
	 * @param tensorsDone output tensors written
	 * @param tensorsTotal output tensors in all
	 * @param bytesDone output bytes written
	 * @param bytesTotal size of the output file
	 */
	public record Progress(int tensorsDone, int tensorsTotal, long bytesDone, long bytesTotal) {
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
	public record Term(UUID patchId, double weight, UUID modelId, Integer slice, List<Integer> layerRange) {
	}

}
