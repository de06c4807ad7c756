package dev.patchbay.storage;

import java.util.LinkedHashMap;
import java.util.Map;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * A file is not valid safetensors; names the file and, where one is at fault, the tensor.
 */
public class SafetensorsFormatException extends InvalidInputException {

	private SafetensorsFormatException(String detail, Map<String, ?> properties) {
		super(ProblemKind.INVALID_SAFETENSORS, detail, properties);
	}

	public static SafetensorsFormatException forFile(String file, String reason) {
		return new SafetensorsFormatException(file + ": " + reason, Map.of("file", file));
	}

	public static SafetensorsFormatException forTensor(String file, String tensor, String reason) {
		Map<String, Object> properties = new LinkedHashMap<>();
		properties.put("file", file);
		properties.put("tensor", tensor);
		return new SafetensorsFormatException(file + ": tensor '" + tensor + "' " + reason, properties);
	}

}
