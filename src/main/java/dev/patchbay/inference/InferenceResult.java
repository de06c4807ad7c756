package dev.patchbay.inference;

import java.util.List;

/**
 * What one inference request returned.
 *
 * @param requestId the request's id, if it sent one
 * @param outputs the outputs asked for, in the order asked, else all of the graph's
 */
public record InferenceResult(String requestId, List<OutputTensor> outputs) {
}
