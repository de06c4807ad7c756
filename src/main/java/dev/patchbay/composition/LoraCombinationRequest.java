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
 * @param combination {@code cat}; in factor space {@code linear}, {@code ties},
 * {@code dare_linear}, {@code dare_ties}, {@code magnitude_prune}; in delta space
 * {@code svd}, {@code ties_svd}, {@code dare_linear_svd}, {@code dare_ties_svd},
 * {@code magnitude_prune_svd}
 * @param rank for the svd types, the rank kept (default: the largest source rank)
 * @param labels optional labels
 * @param density for the pruning types, the fraction kept, in (0, 1]
 * @param majoritySign for the ties types: total (default) or frequency
 * @param seed for the dare types, the seed of the counter-based masks (default 0)
 * @param svdClamp for the svd types, PEFT's {@code svd_clamp}: the quantile in (0, 1) of
 * the factors' entries they are clamped to
 * @param fidelity {@code exact} (default: each delta weighted by wᵢ) or
 * {@code peft-5d602fdb} (the svd types weight by wᵢ·sᵢ, as PEFT did before PR #3111)
 */
public record LoraCombinationRequest(String name, String version, List<Term> terms, String combination, Integer rank,
		Map<String, String> labels, Double density, String majoritySign, Long seed, Double svdClamp, String fidelity) {

	/**
	 * One source adapter.
	 *
	 * @param patchId a LoRA patch
	 * @param weight its weight
	 */
	public record Term(String patchId, Double weight) {
	}

}
