package dev.patchbay.registry;

import java.util.List;
import java.util.Map;

import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;

/**
 * A graph's parameters do not match the model's tensors; names every parameter at fault.
 */
public class GraphMismatchException extends UnprocessableException {

	private GraphMismatchException(List<GraphValidator.GraphProblem> problems) {
		super(ProblemKind.GRAPH_MISMATCH,
				String.join("; ", problems.stream().map(GraphValidator.GraphProblem::message).toList()),
				Map.of("field", "graph", "problems", problems));
	}

	static GraphMismatchException of(List<GraphValidator.GraphProblem> problems) {
		return new GraphMismatchException(List.copyOf(problems));
	}

}
