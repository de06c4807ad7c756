package dev.patchbay.composition;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A composition as its callers see it: the stored row with its progress, which comes from
 * the live output while this instance computes it (the row is only updated now and then),
 * else from the row.
 *
 * @param id the composition id
 * @param recipeDigest identifies the result: identical recipes share it
 * @param status where it is in its life
 * @param progress tensors and bytes done so far
 * @param baseModelId the base model, null for a baseless mergekit recipe
 * @param terms the patches, models or slice sources, in order
 * @param method the merge method's name
 * @param materialize whether the result is registered as a model
 * @param resultModelId the materialized model, once there is one
 * @param error the stored problem (JSON) that made it fail, else null
 * @param createdAt when it was requested
 * @param startedAt when computing started
 * @param finishedAt when it became ready, failed or was cancelled
 * @param resultName the name its result is registered under, if the request gave one
 * @param auditAcknowledgement the admin's acknowledgement of flagged audit findings
 * (JSON, with when), else null
 */
public record CompositionSummary(UUID id, String recipeDigest, CompositionStatus status, Progress progress,
		UUID baseModelId, List<Term> terms, String method, boolean materialize, UUID resultModelId, String error,
		Instant createdAt, Instant startedAt, Instant finishedAt, String resultName, String auditAcknowledgement) {

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
	 * One term, or one source of a slice.
	 *
	 * @param patchId the patch, or null for a whole model
	 * @param weight its weight
	 * @param modelId the whole model, or null for a patch
	 * @param slice for a source of a slices recipe, its slice; else null
	 * @param layerFrom for a slice source, its first layer; else null
	 * @param layerTo for a slice source, the layer after its last; else null
	 */
	public record Term(UUID patchId, double weight, UUID modelId, Integer slice, Integer layerFrom, Integer layerTo) {
	}

}
