package dev.patchbay.registry;

import java.util.List;

/**
 * Whether a patch applies to a model, with every problem found.
 *
 * @param compatible true when there are no problems
 * @param problems each incompatible tensor
 */
public record CompatibilityReport(boolean compatible, List<Problem> problems) {

	static CompatibilityReport of(List<Problem> problems) {
		return new CompatibilityReport(problems.isEmpty(), List.copyOf(problems));
	}

	/**
	 * One incompatible tensor.
	 *
	 * @param tensor the model tensor at fault
	 * @param message what is wrong
	 * @param expectedShape the shape the patch needs, or null
	 * @param actualShape the shape the model has, or null when the tensor is missing
	 */
	public record Problem(String tensor, String message, List<Long> expectedShape, List<Long> actualShape) {
	}

}
