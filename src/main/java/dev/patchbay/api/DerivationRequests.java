package dev.patchbay.api;

import java.util.List;
import java.util.Map;

import dev.patchbay.composition.DerivedPatch;
import dev.patchbay.composition.Derivations;
import dev.patchbay.composition.LoraCombinations;
import dev.patchbay.composition.LoraExtractions;

/**
 * Bodies of the endpoints that derive a patch on the server. Each is flat, as the
 * contract has it, and splits into what the patch is registered as ({@code patch()}) and
 * what the derivation computes ({@code derivation()}); the composition module checks both
 * and names the field at fault.
 */
final class DerivationRequests {

	private DerivationRequests() {
	}

	/**
	 * A diff vector to derive on the server: finetuned − base.
	 *
	 * @param name the patch name
	 * @param version an optional version
	 * @param baseModelId the model fine-tuning started from: an id or a reference
	 * @param finetunedModelId the fine-tuned model: an id or a reference
	 * @param include regexes; when given, only tensors whose name matches one are kept
	 * @param exclude regexes; tensors whose name matches one are dropped
	 * @param dtype stored dtype of the deltas; defaults to the fine-tuned tensor's dtype
	 * @param labels optional labels
	 */
	record DiffRequest(String name, String version, String baseModelId, String finetunedModelId, List<String> include,
			List<String> exclude, String dtype, Map<String, String> labels) {

		DerivedPatch patch() {
			return new DerivedPatch(this.name, this.version, this.labels);
		}

		Derivations.Diff derivation() {
			return new Derivations.Diff(this.baseModelId, this.finetunedModelId, this.include, this.exclude,
					this.dtype);
		}

	}

	/**
	 * A Robust Weight Signature to derive on the server.
	 *
	 * @param name the patch name
	 * @param version an optional version
	 * @param cleanModelId the model trained on clean data
	 * @param robustModelId the model made robust (e.g. fine-tuned on corrupted data)
	 * @param pretrainedModelId the common pretrained model; without it the signature is
	 * robust − clean
	 * @param include regexes choosing the (shallow) tensors the signature keeps; required
	 * @param quantization optional uniform min–max quantization of the signature
	 * @param labels optional labels
	 */
	record RwsRequest(String name, String version, String cleanModelId, String robustModelId, String pretrainedModelId,
			List<String> include, Quantization quantization, Map<String, String> labels) {

		/**
		 * Uniform asymmetric min–max quantization.
		 *
		 * @param bits 8, 4 or 2
		 * @param granularity {@code tensor} (one range per tensor) or {@code channel}
		 * (one per output channel)
		 */
		record Quantization(Integer bits, String granularity) {
		}

		DerivedPatch patch() {
			return new DerivedPatch(this.name, this.version, this.labels);
		}

		Derivations.Rws derivation() {
			return new Derivations.Rws(this.cleanModelId, this.robustModelId, this.pretrainedModelId, this.include,
					(this.quantization != null) ? new Derivations.Rws.Quantization(this.quantization.bits(),
							this.quantization.granularity()) : null);
		}

	}

	/**
	 * LoRA patches to combine into one LoRA patch without a base model's weights, as
	 * PEFT's {@code add_weighted_adapter} does, without its known bugs.
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
	 * @param svdClamp for the svd types, PEFT's {@code svd_clamp}: the quantile in (0, 1)
	 * of the factors' entries they are clamped to
	 * @param fidelity {@code exact} (default: each delta weighted by wᵢ) or
	 * {@code peft-5d602fdb} (the svd types weight by wᵢ·sᵢ, as PEFT did before PR #3111)
	 */
	record LoraCombinationRequest(String name, String version, List<Term> terms, String combination, Integer rank,
			Map<String, String> labels, Double density, String majoritySign, Long seed, Double svdClamp,
			String fidelity) {

		/**
		 * One source adapter.
		 *
		 * @param patchId a LoRA patch
		 * @param weight its weight
		 */
		record Term(String patchId, Double weight) {
		}

		DerivedPatch patch() {
			return new DerivedPatch(this.name, this.version, this.labels);
		}

		LoraCombinations.Combination derivation() {
			List<LoraCombinations.Combination.Term> sources = (this.terms != null) ? this.terms.stream()
				.map((term) -> (term != null) ? new LoraCombinations.Combination.Term(term.patchId(), term.weight())
						: null)
				.toList() : null;
			return new LoraCombinations.Combination(sources, this.combination, this.rank, this.density,
					this.majoritySign, this.seed, this.svdClamp, this.fidelity);
		}

	}

	/**
	 * A LoRA adapter to extract on the server by truncated SVD, as
	 * {@code mergekit-extract-lora} does: from a diff patch, or from a fine-tuned model
	 * and its base.
	 *
	 * @param name the patch name
	 * @param version an optional version
	 * @param diffPatchId a diff patch whose deltas to factor (its base model supplies the
	 * full weights of modules saved whole)
	 * @param baseModelId the model fine-tuning started from
	 * @param finetunedModelId the fine-tuned model
	 * @param rank the largest rank kept per module
	 * @param svEpsilon when positive, singular values at or below it are dropped too
	 * @param include regexes; when given, only modules whose name matches one are
	 * extracted
	 * @param exclude regexes; modules whose name matches one are left out entirely
	 * @param embeddings factor embedding tables and lm_head too, instead of saving them
	 * whole
	 * @param distributeScale split √S between the factors (mergekit's default), else S
	 * goes to A
	 * @param skipUndecomposable drop modules that cannot be factored (norms) instead of
	 * saving them whole
	 * @param labels optional labels
	 */
	record LoraExtractionRequest(String name, String version, String diffPatchId, String baseModelId,
			String finetunedModelId, Integer rank, Double svEpsilon, List<String> include, List<String> exclude,
			Boolean embeddings, Boolean distributeScale, Boolean skipUndecomposable, Map<String, String> labels) {

		DerivedPatch patch() {
			return new DerivedPatch(this.name, this.version, this.labels);
		}

		LoraExtractions.Factoring derivation() {
			return new LoraExtractions.Factoring(this.diffPatchId, this.baseModelId, this.finetunedModelId, this.rank,
					this.svEpsilon, this.include, this.exclude, this.embeddings, this.distributeScale,
					this.skipUndecomposable);
		}

	}

}
