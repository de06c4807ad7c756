package dev.patchbay.inference;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;

import dev.patchbay.engine.HostTensor;
import dev.patchbay.shared.DType;
import dev.patchbay.engine.TensorData;

/**
 * Converts between KServe v2 JSON tensors and engine host tensors. BF16 inputs are taken
 * as FP32 (their values are floats), since DJL cannot hold BF16.
 */
final class TensorCodec {

	private static final Map<String, DType> DATATYPES = Map.of("BOOL", DType.BOOL, "UINT8", DType.U8, "INT8", DType.I8,
			"INT16", DType.I16, "INT32", DType.I32, "INT64", DType.I64, "FP16", DType.F16, "FP32", DType.F32, "FP64",
			DType.F64, "BF16", DType.F32);

	private TensorCodec() {
	}

	static boolean isKnown(String datatype) {
		return DATATYPES.containsKey(datatype);
	}

	/**
	 * @throws InferenceInputException naming the input when its datatype, shape or data
	 * is wrong
	 */
	static HostTensor decode(InferenceTensor tensor, String field) {
		if (tensor.datatype() == null || !isKnown(tensor.datatype())) {
			throw InferenceInputException.forField(field + ".datatype",
					"'" + tensor.datatype() + "' is not one of " + DATATYPES.keySet());
		}
		if (tensor.shape() == null || tensor.shape().stream().anyMatch((dim) -> dim == null || dim < 0)) {
			throw InferenceInputException.forField(field + ".shape", "must list non-negative dimensions");
		}
		DType dtype = DATATYPES.get(tensor.datatype());
		List<JsonNode> values = new ArrayList<>();
		flatten(tensor.data(), values, field);
		long expected = tensor.shape().stream().mapToLong(Long::longValue).reduce(1, Math::multiplyExact);
		if (values.size() != expected) {
			throw InferenceInputException.forField(field + ".data",
					"has " + values.size() + " elements but shape " + tensor.shape() + " needs " + expected);
		}
		ByteBuffer data = ByteBuffer.allocate(values.size() * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
		for (int i = 0; i < values.size(); i++) {
			JsonNode value = values.get(i);
			if (dtype == DType.BOOL ? !value.isBoolean() : !value.isNumber()) {
				throw InferenceInputException.forField(field + ".data[" + i + "]",
						"is " + value + ", not a " + ((dtype == DType.BOOL) ? "boolean" : "number"));
			}
			switch (dtype) {
				case BOOL -> data.put(value.asBoolean() ? (byte) 1 : 0);
				case U8, I8 -> data.put((byte) value.asInt());
				case I16 -> data.putShort((short) value.asInt());
				case I32 -> data.putInt(value.asInt());
				case I64 -> data.putLong(value.asLong());
				case F16 -> data.put(TensorData.encode(new float[] { value.floatValue() }, 1, DType.F16));
				case F64 -> data.putDouble(value.asDouble());
				default -> data.putFloat(value.floatValue());
			}
		}
		return new HostTensor(dtype, tensor.shape().stream().mapToLong(Long::longValue).toArray(), data.flip());
	}

	private static void flatten(JsonNode node, List<JsonNode> out, String field) {
		if (node == null || node.isNull()) {
			throw InferenceInputException.forField(field + ".data", "is required");
		}
		if (node.isArray()) {
			node.forEach((element) -> flatten(element, out, field));
		}
		else {
			out.add(node);
		}
	}

	static InferenceTensor encode(String name, HostTensor tensor) {
		ArrayNode data = JsonNodeFactory.instance.arrayNode();
		ByteBuffer bytes = tensor.data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
		int count = Math.toIntExact(tensor.elementCount());
		for (int i = 0; i < count; i++) {
			switch (tensor.dtype()) {
				case BOOL -> data.add(bytes.get(i) != 0);
				case U8 -> data.add(bytes.get(i) & 0xFF);
				case I8 -> data.add(bytes.get(i));
				case I16 -> data.add(bytes.getShort(i * 2));
				case I32 -> data.add(bytes.getInt(i * 4));
				case I64 -> data.add(bytes.getLong(i * 8));
				case F64 -> data.add(bytes.getDouble(i * 8));
				case F16 -> data.add(TensorData.halfToFloat(bytes.getShort(i * 2)));
				default -> data.add(bytes.getFloat(i * 4));
			}
		}
		List<Long> shape = new ArrayList<>();
		for (long dim : tensor.shape()) {
			shape.add(dim);
		}
		return new InferenceTensor(name, shape, datatypeOf(tensor.dtype()), data);
	}

	static String datatypeOf(DType dtype) {
		return DATATYPES.entrySet()
			.stream()
			.filter((entry) -> entry.getValue() == dtype && !entry.getKey().equals("BF16"))
			.map(Map.Entry::getKey)
			.findFirst()
			.orElseThrow();
	}

}
