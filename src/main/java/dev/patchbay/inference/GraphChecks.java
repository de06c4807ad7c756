package dev.patchbay.inference;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import org.springframework.stereotype.Component;

import dev.patchbay.engine.GraphModel;
import dev.patchbay.engine.TensorEngine;
import dev.patchbay.registry.GraphValidator;
import dev.patchbay.shared.TensorSpec;

/**
 * Loads an uploaded graph and checks that the model's tensors supply every parameter with
 * the right shape.
 */
@Component
class GraphChecks implements GraphValidator {

	private final TensorEngine engine;

	GraphChecks(TensorEngine engine) {
		this.engine = engine;
	}

	@Override
	public List<GraphProblem> check(Path graph, List<TensorSpec> tensors) throws IOException {
		Map<String, TensorSpec> byName = tensors.stream()
			.collect(Collectors.toMap(TensorSpec::name, Function.identity()));
		List<GraphProblem> problems = new ArrayList<>();
		try (GraphModel model = this.engine.loadGraph(graph)) {
			model.parameterShapes().forEach((name, shape) -> {
				TensorSpec tensor = byName.get(name);
				if (tensor == null) {
					problems.add(new GraphProblem(name, "graph parameter '" + name + "' has no tensor in the model",
							shape, null));
				}
				else if (!tensor.shape().equals(shape)) {
					problems.add(new GraphProblem(name, "graph parameter '" + name + "' has shape " + shape
							+ " but the model's tensor has " + tensor.shape(), shape, tensor.shape()));
				}
				else if (!tensor.dtype().isFloatingPoint()) {
					problems.add(new GraphProblem(name,
							"graph parameter '" + name + "' gets non-floating-point tensor of dtype " + tensor.dtype(),
							shape, tensor.shape()));
				}
			});
		}
		return problems;
	}

}
