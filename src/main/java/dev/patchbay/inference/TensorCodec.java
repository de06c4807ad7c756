package dev.patchbay.inference;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;

import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.JsonNodeFactory;

import dev.patchbay.engine.HostTensor;
import dev.patchbay.shared.DType;
import dev.patchbay.engine.TensorData;

/**
 * Converts engine host tensors to KServe v2 JSON tensors, and names the datatypes. BF16
 * inputs are taken as FP32 (their values are floats), since DJL cannot hold BF16.
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

	/** The engine dtype a known datatype is decoded to. */
	static DType dtypeOf(String datatype) {
		return DATATYPES.get(datatype);
	}

	/** The known datatypes, sorted, for messages. */
	static String datatypes() {
		return new TreeSet<>(DATATYPES.keySet()).toString();
	}

	static OutputTensor encode(String name, HostTensor tensor) {
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
		return new OutputTensor(name, shape, datatypeOf(tensor.dtype()), data);
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
