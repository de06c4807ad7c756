package dev.patchbay.composition;

import java.util.List;
import java.util.Map;

import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.SafetensorsWriter;

/**
 * A validated composition, ready to execute: every output tensor with its base and the
 * terms that change it.
 *
 * @param tensors output tensors in output order
 * @param method how the terms combine
 * @param weights one weight per term
 * @param baseless whether the recipe has no base model: the base reads as zeros, each
 * tensor's shape being the first term's
 * @param finite whether an output value that is NaN or infinite fails the composition
 * @param precision the half precision inputs are rounded to when loaded, or null
 */
record Plan(List<TensorPlan> tensors, MergeMethod method, float[] weights, boolean baseless, boolean finite,
		DType precision) {

	Plan(List<TensorPlan> tensors, MergeMethod method, float[] weights) {
		this(tensors, method, weights, false, true, null);
	}

	static final Map<String, String> METADATA = Map.of("format", "pt");

	List<TensorSpec> outputSpecs() {
		return this.tensors.stream().map(TensorPlan::output).toList();
	}

	/** Size of the output file, known before any compute. */
	long outputBytes() {
		return SafetensorsWriter.fileSize(outputSpecs(), METADATA);
	}

	/**
	 * One output tensor.
	 *
	 * @param output the tensor as written: base name and shape (rows padded to the larger
	 * vocab), output dtype
	 * @param base the base tensor
	 * @param terms per composition term, its delta on this tensor, or null where the term
	 * leaves it alone
	 * @param tuning for a mergekit method, this tensor's parameters; else null
	 * @param moments for a curvature-aware method (ota, ffg), per term its optimizer
	 * second moments on this tensor; else null
	 */
	record TensorPlan(TensorSpec output, TensorRows base, List<TermDelta> terms, MergekitMethods.Tuning tuning,
			List<Moments> moments) {

		TensorPlan(TensorSpec output, TensorRows base, List<TermDelta> terms) {
			this(output, base, terms, null, null);
		}

		TensorPlan(TensorSpec output, TensorRows base, List<TermDelta> terms, MergekitMethods.Tuning tuning) {
			this(output, base, terms, tuning, null);
		}

		/**
		 * One term's second moments v on a tensor: the full v, or a matrix's rank-1
		 * factors (row sums and column sums).
		 */
		record Moments(TensorRows full, TensorRows rows, TensorRows columns) {
		}

		boolean untouched() {
			return this.terms.stream().allMatch((term) -> term == null);
		}

	}

}
