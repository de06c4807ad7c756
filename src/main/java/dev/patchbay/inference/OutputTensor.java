package dev.patchbay.inference;

import java.util.List;

import tools.jackson.databind.JsonNode;

/**
 * One output of an inference, its elements encoded as KServe v2 (Open Inference Protocol)
 * values.
 *
 * @param name the output name
 * @param shape the dimensions
 * @param datatype BOOL, UINT8, INT8, INT16, INT32, INT64, FP16, FP32 or FP64
 * @param data the elements, row-major, as a flat array
 */
public record OutputTensor(String name, List<Long> shape, String datatype, JsonNode data) {
}
