package dev.patchbay.registry;

import java.util.List;
import java.util.Map;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * A PEFT adapter's config is malformed or contradicts its tensors; lists every problem
 * found.
 */
public class AdapterConfigException extends InvalidInputException {

	private AdapterConfigException(List<AdapterProblem> problems) {
		super(ProblemKind.INVALID_ADAPTER, String.join("; ", problems.stream().map(AdapterProblem::message).toList()),
				Map.of("problems", problems));
	}

	public static AdapterConfigException of(List<AdapterProblem> problems) {
		return new AdapterConfigException(List.copyOf(problems));
	}

	/**
	 * One problem: the config field or the tensor at fault, and what is wrong.
	 *
	 * @param field the adapter_config.json field, or null
	 * @param tensor the adapter tensor, or null
	 * @param message what is wrong
	 */
	public record AdapterProblem(String field, String tensor, String message) {

		static AdapterProblem field(String field, String message) {
			return new AdapterProblem(field, null, "adapter_config." + field + ": " + message);
		}

		static AdapterProblem tensor(String tensor, String message) {
			return new AdapterProblem(null, tensor, "tensor '" + tensor + "': " + message);
		}

	}

}
