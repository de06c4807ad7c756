package dev.patchbay.registry;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import dev.patchbay.shared.TensorSpec;

/**
 * Checks a TorchScript graph against the tensors of the model it is attached to.
 * Implemented by the module that can load graphs, so that the registry need not.
 */
public interface GraphValidator {

	/**
	 * @return one message per graph parameter that the tensors do not supply with the
	 * right shape; empty when the graph fits
	 * @throws IOException if the file is not a loadable graph
	 */
	List<GraphProblem> check(Path graph, List<TensorSpec> tensors) throws IOException;

	/**
	 * A graph parameter the model cannot fill.
	 *
	 * @param parameter the parameter name
	 * @param message what is wrong
	 * @param expectedShape the parameter's shape
	 * @param actualShape the model tensor's shape, or null when it has none of that name
	 */
	record GraphProblem(String parameter, String message, List<Long> expectedShape, List<Long> actualShape) {
	}

}
