package dev.patchbay.composition;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * The whole ancestry of a model: every model, patch and composition it comes from, with
 * how each fed the next.
 *
 * @param nodes the artifacts and compositions, the model first
 * @param edges how each was derived, from source to result
 */
public record Lineage(List<Node> nodes, List<Edge> edges) {

	/**
	 * One model, patch or composition.
	 *
	 * @param id its id
	 * @param type {@code model}, {@code patch} or {@code composition}
	 * @param name the artifact's name; null for a composition
	 * @param version the artifact's version, may be null
	 * @param kind a patch's kind, a composition's method; else null
	 * @param digest what identifies its content: the sha256 of an artifact's files in
	 * order, comma-separated, or a composition's recipe digest
	 * @param createdAt when it was registered or requested
	 */
	public record Node(UUID id, String type, String name, String version, String kind, String digest,
			Instant createdAt) {
	}

	/**
	 * @param from the source
	 * @param to what was derived from it
	 * @param relation how: {@code finetune} (an external fine-tune), {@code base},
	 * {@code finetuned}, {@code clean}, {@code robust}, {@code pretrained} (inputs of a
	 * derived patch), {@code patch} or {@code model} (a composition's terms) and
	 * {@code materialized} (a composition's result)
	 * @param weight a composition term's weight; else null
	 */
	public record Edge(UUID from, UUID to, String relation, Double weight) {
	}

}
