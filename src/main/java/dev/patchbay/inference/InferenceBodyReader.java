package dev.patchbay.inference;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import tools.jackson.core.JsonParser;
import tools.jackson.core.JsonToken;
import tools.jackson.databind.json.JsonMapper;

import dev.patchbay.engine.HostTensor;
import dev.patchbay.engine.TensorData;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.PayloadTooLargeException;
import dev.patchbay.shared.ProblemKind;

/**
 * Reads a KServe v2 inference request token by token, writing each input's elements
 * straight into its tensor buffer, so that memory holds the tensors and not a JSON tree
 * many times their size. Every value is checked against its datatype's range.
 */
final class InferenceBodyReader {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final List<String> REQUEST_FIELDS = List.of("id", "inputs", "outputs", "parameters");

	private static final List<String> INPUT_FIELDS = List.of("data", "datatype", "name", "parameters", "shape");

	private static final List<String> OUTPUT_FIELDS = List.of("name", "parameters");

	private final long maxElements;

	private InferenceBodyReader(long maxElements) {
		this.maxElements = maxElements;
	}

	/**
	 * One decoded input.
	 *
	 * @param name its name
	 * @param shape its dimensions
	 * @param datatype its KServe datatype
	 * @param tensor its elements
	 */
	record Input(String name, List<Long> shape, String datatype, HostTensor tensor) {
	}

	/**
	 * A decoded request.
	 *
	 * @param id the request id to echo, or null
	 * @param inputs the inputs in request order
	 * @param outputs the names of the outputs asked for, in request order, or null for
	 * all of them
	 */
	record Request(String id, List<Input> inputs, List<String> outputs) {
	}

	/**
	 * @param maxBytes the most body bytes read
	 * @param maxElements the most elements of all inputs together
	 * @throws PayloadTooLargeException beyond either limit
	 * @throws InferenceInputException naming the field at fault
	 * @throws tools.jackson.core.JacksonException for malformed JSON
	 */
	static Request read(InputStream body, long maxBytes, long maxElements) {
		try (JsonParser parser = JSON.createParser(new Limited(body, maxBytes))) {
			return new InferenceBodyReader(maxElements).request(parser);
		}
	}

	private Request request(JsonParser parser) {
		if (parser.nextToken() != JsonToken.START_OBJECT) {
			throw InferenceInputException.forField("body", "must be a JSON object");
		}
		String id = null;
		List<Input> inputs = null;
		List<String> outputs = null;
		long elements = 0;
		while (parser.nextToken() == JsonToken.PROPERTY_NAME) {
			String field = known(parser.currentName(), REQUEST_FIELDS, "");
			JsonToken value = parser.nextToken();
			switch (field) {
				case "id" -> id = (value == JsonToken.VALUE_NULL) ? null : string(parser, "id");
				case "inputs" -> {
					if (value != JsonToken.START_ARRAY) {
						throw InferenceInputException.forField("inputs", "must be a list of tensors");
					}
					inputs = new ArrayList<>();
					while (parser.nextToken() != JsonToken.END_ARRAY) {
						Input input = input(parser, "inputs[" + inputs.size() + "]", this.maxElements - elements);
						elements += input.tensor().elementCount();
						inputs.add(input);
					}
				}
				case "outputs" -> outputs = outputs(parser);
				default -> parser.skipChildren();
			}
		}
		if (inputs == null || inputs.isEmpty()) {
			throw InferenceInputException.forField("inputs", "at least one input is required");
		}
		return new Request(id, inputs, outputs);
	}

	private static List<String> outputs(JsonParser parser) {
		if (parser.currentToken() == JsonToken.VALUE_NULL) {
			return null;
		}
		if (parser.currentToken() != JsonToken.START_ARRAY) {
			throw InferenceInputException.forField("outputs", "must be a list of {\"name\": ...} objects");
		}
		List<String> names = new ArrayList<>();
		while (parser.nextToken() != JsonToken.END_ARRAY) {
			String field = "outputs[" + names.size() + "]";
			if (parser.currentToken() != JsonToken.START_OBJECT) {
				throw InferenceInputException.forField(field, "must be an object with a name");
			}
			String name = null;
			while (parser.nextToken() == JsonToken.PROPERTY_NAME) {
				String property = known(parser.currentName(), OUTPUT_FIELDS, field + ".");
				parser.nextToken();
				if (property.equals("name")) {
					name = string(parser, field + ".name");
				}
				else {
					parser.skipChildren();
				}
			}
			if (name == null) {
				throw InferenceInputException.forField(field + ".name", "is required");
			}
			if (names.contains(name)) {
				throw InferenceInputException.forField(field + ".name", "'" + name + "' is asked for twice");
			}
			names.add(name);
		}
		// Clients send an empty list to mean no selection, as the protocol's own do.
		return names.isEmpty() ? null : names;
	}

	private Input input(JsonParser parser, String field, long elementBudget) {
		if (parser.currentToken() != JsonToken.START_OBJECT) {
			throw InferenceInputException.forField(field, "must be a tensor object");
		}
		String name = null;
		String datatype = null;
		List<Long> shape = null;
		Values values = null;
		while (parser.nextToken() == JsonToken.PROPERTY_NAME) {
			String property = known(parser.currentName(), INPUT_FIELDS, field + ".");
			JsonToken value = parser.nextToken();
			switch (property) {
				case "name" -> name = string(parser, field + ".name");
				case "datatype" -> datatype = string(parser, field + ".datatype");
				case "shape" -> shape = shape(parser, field + ".shape");
				case "data" -> {
					if (value == JsonToken.VALUE_NULL) {
						throw InferenceInputException.forField(field + ".data", "is required");
					}
					values = new Values(dtype(datatype, field), expected(shape, field, elementBudget), elementBudget,
							field + ".data");
					values.read(parser);
				}
				default -> parser.skipChildren();
			}
		}
		String label = "inputs[" + name + "]";
		if (name == null) {
			throw InferenceInputException.forField(field + ".name", "is required");
		}
		if (datatype == null) {
			throw InferenceInputException.forField(label + ".datatype",
					"is required: one of " + TensorCodec.datatypes());
		}
		DType dtype = dtype(datatype, label);
		if (shape == null) {
			throw InferenceInputException.forField(label + ".shape", "must list non-negative dimensions");
		}
		long count = expected(shape, label, elementBudget);
		if (values == null) {
			throw InferenceInputException.forField(label + ".data", "is required");
		}
		if (values.count != count) {
			throw InferenceInputException.forField(label + ".data",
					"has " + values.count + " elements but shape " + shape + " needs " + count);
		}
		ByteBuffer data = values.encode(dtype, label + ".data");
		return new Input(name, shape, datatype,
				new HostTensor(dtype, shape.stream().mapToLong(Long::longValue).toArray(), data));
	}

	private static String known(String name, List<String> fields, String prefix) {
		if (!fields.contains(name)) {
			throw InferenceInputException.forField(prefix + name, "is not a known field; expected one of " + fields);
		}
		return name;
	}

	private static String string(JsonParser parser, String field) {
		if (parser.currentToken() != JsonToken.VALUE_STRING) {
			throw InferenceInputException.forField(field, "must be a string");
		}
		return parser.getString();
	}

	private static List<Long> shape(JsonParser parser, String field) {
		if (parser.currentToken() != JsonToken.START_ARRAY) {
			throw InferenceInputException.forField(field, "must list non-negative dimensions");
		}
		List<Long> shape = new ArrayList<>();
		while (parser.nextToken() != JsonToken.END_ARRAY) {
			if (parser.currentToken() != JsonToken.VALUE_NUMBER_INT
					|| parser.getNumberType() == JsonParser.NumberType.BIG_INTEGER || parser.getLongValue() < 0
					|| shape.size() >= 32) {
				throw InferenceInputException.forField(field, "must list at most 32 non-negative 64-bit dimensions");
			}
			shape.add(parser.getLongValue());
		}
		return shape;
	}

	/** The datatype's dtype, or null while it is not known yet. */
	private static DType dtype(String datatype, String field) {
		if (datatype == null) {
			return null;
		}
		if (!TensorCodec.isKnown(datatype)) {
			throw InferenceInputException.forField(field + ".datatype",
					"'" + datatype + "' is not one of " + TensorCodec.datatypes());
		}
		return TensorCodec.dtypeOf(datatype);
	}

	/**
	 * The element count of a shape, or -1 while it is not known yet.
	 * @throws PayloadTooLargeException beyond the budget, overflow included
	 */
	private long expected(List<Long> shape, String field, long budget) {
		if (shape == null) {
			return -1;
		}
		long count = 1;
		for (long dim : shape) {
			if (dim != 0 && count > budget / dim) {
				throw tooManyElements(field + ".shape", shape.toString());
			}
			count *= dim;
		}
		return count;
	}

	private PayloadTooLargeException tooManyElements(String field, String what) {
		return new PayloadTooLargeException(ProblemKind.INFERENCE_INPUT_TOO_LARGE,
				field + ": " + what + " exceeds the limit of " + this.maxElements
						+ " elements per request (patchbay.inference.max-request-elements)",
				Map.of("field", field, "limitElements", this.maxElements));
	}

	/**
	 * The elements of one input: encoded as they arrive when the dtype and shape came
	 * first (as clients send them), else kept as 64-bit values until they are known.
	 */
	private final class Values {

		private static final byte BOOLEAN = 0;

		private static final byte INTEGER = 1;

		private static final byte FLOAT = 2;

		private final String field;

		private final long budget;

		private final DType dtype;

		private ByteBuffer encoded;

		private long[] bits = new long[0];

		private byte[] kinds = new byte[0];

		private long count;

		Values(DType dtype, long expected, long budget, String field) {
			this.field = field;
			this.budget = budget;
			this.dtype = (expected >= 0) ? dtype : null;
			if (this.dtype != null) {
				this.encoded = ByteBuffer.allocate(Math.toIntExact(expected * dtype.byteSize()))
					.order(ByteOrder.LITTLE_ENDIAN);
			}
		}

		void read(JsonParser parser) {
			if (parser.currentToken() != JsonToken.START_ARRAY) {
				add(parser);
				return;
			}
			int depth = 0;
			do {
				JsonToken token = parser.currentToken();
				if (token == JsonToken.START_ARRAY) {
					depth++;
				}
				else if (token == JsonToken.END_ARRAY) {
					depth--;
				}
				else {
					add(parser);
				}
				if (depth > 0) {
					parser.nextToken();
				}
			}
			while (depth > 0);
		}

		private void add(JsonParser parser) {
			JsonToken token = parser.currentToken();
			byte kind;
			long value;
			if (token == JsonToken.VALUE_TRUE || token == JsonToken.VALUE_FALSE) {
				kind = BOOLEAN;
				value = (token == JsonToken.VALUE_TRUE) ? 1 : 0;
			}
			else if (token == JsonToken.VALUE_NUMBER_INT
					&& parser.getNumberType() != JsonParser.NumberType.BIG_INTEGER) {
				kind = INTEGER;
				value = parser.getLongValue();
			}
			else if (token == JsonToken.VALUE_NUMBER_INT || token == JsonToken.VALUE_NUMBER_FLOAT) {
				kind = FLOAT;
				value = Double.doubleToRawLongBits(parser.getDoubleValue());
			}
			else {
				throw InferenceInputException.forField(this.field + "[" + this.count + "]",
						"must be a number (or a boolean for BOOL)");
			}
			if (this.count >= this.budget) {
				throw tooManyElements(this.field, "the data");
			}
			if (this.encoded != null) {
				if (!this.encoded.hasRemaining()) {
					throw InferenceInputException.forField(this.field, "has more elements than its shape needs");
				}
				put(this.encoded, this.dtype, kind, value, this.count);
			}
			else {
				if (this.count == this.bits.length) {
					int grown = (int) Math.min(Integer.MAX_VALUE - 8, Math.max(1024, this.count * 2));
					this.bits = Arrays.copyOf(this.bits, grown);
					this.kinds = Arrays.copyOf(this.kinds, grown);
				}
				this.bits[(int) this.count] = value;
				this.kinds[(int) this.count] = kind;
			}
			this.count++;
		}

		ByteBuffer encode(DType target, String label) {
			if (this.encoded != null) {
				return this.encoded.flip();
			}
			ByteBuffer data = ByteBuffer.allocate(Math.toIntExact(this.count * target.byteSize()))
				.order(ByteOrder.LITTLE_ENDIAN);
			for (int i = 0; i < this.count; i++) {
				put(data, target, this.kinds[i], this.bits[i], i);
			}
			return data.flip();
		}

		/** Writes one value, refusing what the datatype cannot hold. */
		private void put(ByteBuffer out, DType target, byte kind, long value, long index) {
			String at = this.field + "[" + index + "]";
			if (target == DType.BOOL) {
				if (kind != BOOLEAN) {
					throw InferenceInputException.forField(at, "must be true or false");
				}
				out.put((byte) value);
				return;
			}
			if (kind == BOOLEAN) {
				throw InferenceInputException.forField(at, "is a boolean, not a number");
			}
			if (target.isFloatingPoint()) {
				double number = (kind == INTEGER) ? value : Double.longBitsToDouble(value);
				double max = switch (target) {
					case F16 -> 65504;
					case F64 -> Double.MAX_VALUE;
					default -> Float.MAX_VALUE;
				};
				if (!(Math.abs(number) <= max)) {
					throw InferenceInputException.forField(at,
							"is beyond the range of " + TensorCodec.datatypeOf(target) + " (±" + max + ")");
				}
				switch (target) {
					case F16 -> out.put(TensorData.encode(new float[] { (float) number }, 1, DType.F16));
					case F64 -> out.putDouble(number);
					default -> out.putFloat((float) number);
				}
				return;
			}
			if (kind != INTEGER) {
				throw InferenceInputException.forField(at, "must be an integer");
			}
			long[] range = switch (target) {
				case U8 -> new long[] { 0, 255 };
				case I8 -> new long[] { Byte.MIN_VALUE, Byte.MAX_VALUE };
				case I16 -> new long[] { Short.MIN_VALUE, Short.MAX_VALUE };
				case I32 -> new long[] { Integer.MIN_VALUE, Integer.MAX_VALUE };
				default -> new long[] { Long.MIN_VALUE, Long.MAX_VALUE };
			};
			if (value < range[0] || value > range[1]) {
				throw InferenceInputException.forField(at, "is " + value + ", beyond the range of "
						+ TensorCodec.datatypeOf(target) + " [" + range[0] + ", " + range[1] + "]");
			}
			switch (target) {
				case U8, I8 -> out.put((byte) value);
				case I16 -> out.putShort((short) value);
				case I32 -> out.putInt((int) value);
				default -> out.putLong(value);
			}
		}

	}

	/** Stops reading a body at the configured size, with a 413. */
	private static final class Limited extends FilterInputStream {

		private final long maxBytes;

		private long read;

		Limited(InputStream in, long maxBytes) {
			super(in);
			this.maxBytes = maxBytes;
		}

		@Override
		public int read() throws IOException {
			int b = super.read();
			count((b < 0) ? 0 : 1);
			return b;
		}

		@Override
		public int read(byte[] buffer, int offset, int length) throws IOException {
			int n = super.read(buffer, offset, length);
			count(Math.max(0, n));
			return n;
		}

		private void count(int n) {
			this.read += n;
			if (this.read > this.maxBytes) {
				throw InferenceBodyReader.tooLarge(this.maxBytes);
			}
		}

	}

	static PayloadTooLargeException tooLarge(long maxBytes) {
		return new PayloadTooLargeException(ProblemKind.INFERENCE_REQUEST_TOO_LARGE,
				"body: exceeds the limit of " + maxBytes + " bytes (patchbay.inference.max-request-size)",
				Map.of("field", "body", "limitBytes", maxBytes));
	}

}
