package dev.patchbay.inference;

import java.util.List;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A KServe v2 inference response.
 *
 * @param modelName the model or composition id
 * @param id the request id, if one was sent
 * @param outputs the graph's outputs, in order
 */
public record InferenceResponse(@JsonProperty("model_name") String modelName, String id,
		List<InferenceTensor> outputs) {
}
