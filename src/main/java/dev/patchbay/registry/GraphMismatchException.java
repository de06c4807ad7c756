package dev.patchbay.registry;

import java.util.List;
import java.util.Map;

import dev.patchbay.shared.UnprocessableException;

/**
 * A graph's parameters do not match the model's tensors; names every parameter at fault.
 */
public class GraphMismatchException extends UnprocessableException {

	private GraphMismatchException(List<GraphValidator.GraphProblem> problems) {
		super("graph-mismatch", "Graph does not match the model",
				String.join("; ", problems.stream().map(GraphValidator.GraphProblem::message).toList()),
				Map.of("field", "graph", "problems", problems));
	}

	static GraphMismatchException of(List<GraphValidator.GraphProblem> problems) {
		return new GraphMismatchException(List.copyOf(problems));
	}

}
