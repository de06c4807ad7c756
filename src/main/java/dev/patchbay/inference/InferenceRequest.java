package dev.patchbay.inference;

import java.util.List;

/**
 * A KServe v2 inference request.
 *
 * @param id an optional request id, echoed in the response
 * @param inputs the graph's positional inputs, in order
 */
public record InferenceRequest(String id, List<InferenceTensor> inputs) {
}
