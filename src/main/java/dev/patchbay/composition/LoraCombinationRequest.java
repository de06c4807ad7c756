package dev.patchbay.composition;

import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * LoRA patches to combine into one LoRA patch without a base model's weights, as PEFT's
 * {@code add_weighted_adapter} does, without its known bugs.
 *
 * @param name the patch name
 * @param version an optional version
 * @param terms the adapters and their weights
 * @param combination {@code cat}, {@code linear} or {@code svd}
 * @param rank for {@code svd}, the rank kept (default: the largest source rank)
 * @param labels optional labels
 */
public record LoraCombinationRequest(String name, String version, List<Term> terms, String combination, Integer rank,
		Map<String, String> labels) {

	/**
	 * One source adapter.
	 *
	 * @param patchId a LoRA patch
	 * @param weight its weight
	 */
	public record Term(String patchId, Double weight) {
	}

}
