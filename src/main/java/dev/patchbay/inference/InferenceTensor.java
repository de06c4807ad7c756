package dev.patchbay.inference;

import java.util.List;

import tools.jackson.databind.JsonNode;

/**
 * A tensor in a KServe v2 (Open Inference Protocol) request or response.
 *
 * @param name the input or output name
 * @param shape the dimensions
 * @param datatype BOOL, UINT8, INT8, INT16, INT32, INT64, FP16, FP32, FP64 or BF16
 * @param data the elements, row-major: a flat array (nested arrays are accepted in
 * requests)
 */
public record InferenceTensor(String name, List<Long> shape, String datatype, JsonNode data) {
}
