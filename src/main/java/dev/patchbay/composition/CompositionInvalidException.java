package dev.patchbay.composition;

import java.util.List;
import java.util.Map;

import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;

/**
 * A recipe that cannot be composed: every incompatible tensor is listed, found before any
 * compute.
 */
public class CompositionInvalidException extends UnprocessableException {

	private CompositionInvalidException(List<Problem> problems) {
		super(ProblemKind.INCOMPATIBLE_RECIPE,
				problems.size() + " problem(s): " + String.join("; ", problems.stream().map(Problem::message).toList()),
				Map.of("problems", problems));
	}

	static CompositionInvalidException of(List<Problem> problems) {
		return new CompositionInvalidException(List.copyOf(problems));
	}

	/**
	 * One problem.
	 *
	 * @param term index of the recipe term at fault, or null
	 * @param patchId the patch at fault, or null
	 * @param tensor the tensor at fault
	 * @param message what is wrong
	 * @param expectedShape the shape the patch needs, or null
	 * @param actualShape the shape the base has, or null
	 */
	public record Problem(Integer term, String patchId, String tensor, String message, List<Long> expectedShape,
			List<Long> actualShape) {
	}

}
