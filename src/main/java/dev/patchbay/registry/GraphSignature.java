package dev.patchbay.registry;

import java.util.List;

import jakarta.validation.Valid;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotEmpty;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;

/**
 * What a model's graph takes and returns, as inference metadata declares it (TorchScript
 * does not record it). Shapes use -1 for a variable dimension.
 *
 * @param inputs the positional inputs, in order
 * @param outputs the outputs, in order
 */
public record GraphSignature(@NotEmpty List<@Valid @NotNull Declaration> inputs,
		List<@Valid @NotNull Declaration> outputs) {

	/**
	 * One input or output.
	 *
	 * @param name its name in inference requests and responses
	 * @param datatype a KServe v2 datatype, e.g. {@code FP32}
	 * @param shape dimensions, -1 where variable
	 */
	public record Declaration(@NotBlank String name,
			@NotNull @Pattern(regexp = "BOOL|UINT8|INT8|INT16|INT32|INT64|FP16|FP32|FP64|BF16") String datatype,
			@NotNull List<@NotNull Long> shape) {
	}

}
