package dev.patchbay.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;

/**
 * Reads and validates safetensors headers. Nothing in a file is trusted: every length,
 * dtype, shape and offset is checked before any tensor data is touched, so a crafted file
 * cannot cause a large allocation or an out-of-bounds read.
 */
public final class SafetensorsReader {

	/** Largest header accepted, as in the reference implementation. */
	public static final long MAX_HEADER_BYTES = 100_000_000L;

	private static final String METADATA_KEY = "__metadata__";

	private static final JsonMapper JSON = JsonMapper.builder()
		.enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
		.build();

	private SafetensorsReader() {
	}

	/**
	 * Reads and validates the header of the file at {@code path}.
	 * @param source the name to report in errors, e.g. the uploaded file name
	 * @throws SafetensorsFormatException if the file is not valid safetensors
	 */
	public static SafetensorsHeader readHeader(Path path, String source) throws IOException {
		try (FileChannel channel = FileChannel.open(path, StandardOpenOption.READ)) {
			return readHeader(channel, source);
		}
	}

	/**
	 * Reads and validates the header of an open file.
	 * @throws SafetensorsFormatException if the file is not valid safetensors
	 */
	public static SafetensorsHeader readHeader(FileChannel channel, String source) throws IOException {
		long fileSize = channel.size();
		if (fileSize < Long.BYTES) {
			throw SafetensorsFormatException.forFile(source, (fileSize == 0) ? "file is empty"
					: "file has " + fileSize + " bytes, fewer than the 8-byte header length");
		}
		ByteBuffer prefix = readFully(channel, 0, (int) Math.min(fileSize, Long.BYTES + 1))
			.order(ByteOrder.LITTLE_ENDIAN);
		long headerLength = prefix.getLong(0);
		if (!looksLikeSafetensors(prefix, headerLength, fileSize)) {
			rejectForeignFormats(prefix, source);
		}
		if (headerLength < 0 || headerLength > MAX_HEADER_BYTES) {
			throw SafetensorsFormatException.forFile(source, "header length " + Long.toUnsignedString(headerLength)
					+ " exceeds the limit of " + MAX_HEADER_BYTES + " bytes");
		}
		if (Long.BYTES + headerLength > fileSize) {
			throw SafetensorsFormatException.forFile(source,
					"header length " + headerLength + " reaches beyond the end of the " + fileSize + "-byte file");
		}
		ByteBuffer headerBytes = readFully(channel, Long.BYTES, (int) headerLength);
		JsonNode root;
		try {
			root = JSON.readTree(headerBytes.array());
		}
		catch (JacksonException ex) {
			throw SafetensorsFormatException.forFile(source, "header is not valid JSON: " + ex.getOriginalMessage());
		}
		if (root == null || !root.isObject()) {
			throw SafetensorsFormatException.forFile(source, "header is not a JSON object");
		}
		long dataStart = Long.BYTES + headerLength;
		Map<String, String> metadata = Map.of();
		List<TensorEntry> tensors = new ArrayList<>();
		for (Map.Entry<String, JsonNode> field : root.properties()) {
			if (METADATA_KEY.equals(field.getKey())) {
				metadata = parseMetadata(field.getValue(), source);
			}
			else {
				tensors.add(parseTensor(field.getKey(), field.getValue(), dataStart, source));
			}
		}
		checkLayout(tensors, dataStart, fileSize, source);
		return new SafetensorsHeader(tensors, metadata, fileSize);
	}

	/**
	 * A header length that fits the file followed by the JSON object the format requires.
	 * The magic bytes of other formats are looked for only when this fails: a header of
	 * 640 bytes starts with {@code 80 02}, which is also how a pickle starts.
	 */
	private static boolean looksLikeSafetensors(ByteBuffer prefix, long headerLength, long fileSize) {
		return headerLength > 0 && headerLength <= MAX_HEADER_BYTES && Long.BYTES + headerLength <= fileSize
				&& prefix.limit() > Long.BYTES && prefix.get(Long.BYTES) == '{';
	}

	/**
	 * Pickle and zip checkpoints (PyTorch's .bin and .pt) are refused by their magic
	 * bytes, so they are never parsed and the user learns what was wrong.
	 */
	private static void rejectForeignFormats(ByteBuffer prefix, String source) {
		int first = prefix.get(0) & 0xFF;
		if (first == 0x80 && prefix.get(1) >= 2 && prefix.get(1) <= 5) {
			throw SafetensorsFormatException.forFile(source,
					"is a Python pickle, not safetensors; pickles are never loaded");
		}
		if (first == 'P' && prefix.get(1) == 'K' && prefix.get(2) == 3 && prefix.get(3) == 4) {
			throw SafetensorsFormatException.forFile(source,
					"is a zip archive (a PyTorch checkpoint?), not safetensors");
		}
	}

	private static Map<String, String> parseMetadata(JsonNode node, String source) {
		if (!node.isObject()) {
			throw SafetensorsFormatException.forFile(source, "__metadata__ is not a JSON object");
		}
		Map<String, String> metadata = new LinkedHashMap<>();
		for (Map.Entry<String, JsonNode> entry : node.properties()) {
			if (!entry.getValue().isString()) {
				throw SafetensorsFormatException.forFile(source,
						"__metadata__ value of '" + entry.getKey() + "' is not a string");
			}
			metadata.put(entry.getKey(), entry.getValue().asString());
		}
		return metadata;
	}

	private static TensorEntry parseTensor(String name, JsonNode node, long dataStart, String source) {
		if (!node.isObject()) {
			throw SafetensorsFormatException.forTensor(source, name, "is not described by a JSON object");
		}
		JsonNode dtypeNode = node.get("dtype");
		if (dtypeNode == null || !dtypeNode.isString()) {
			throw SafetensorsFormatException.forTensor(source, name, "has no dtype");
		}
		DType dtype = DType.fromName(dtypeNode.asString())
			.orElseThrow(() -> SafetensorsFormatException.forTensor(source, name,
					"has unsupported dtype '" + dtypeNode.asString() + "'"));
		long[] shape = nonNegativeLongs(node.get("shape"), -1, source, name, "shape");
		long[] offsets = nonNegativeLongs(node.get("data_offsets"), 2, source, name, "data_offsets");
		if (offsets[1] < offsets[0]) {
			throw SafetensorsFormatException.forTensor(source, name, "has data_offsets that end before they begin");
		}
		TensorSpec spec = TensorSpec.of(name, dtype, shape);
		long expected;
		try {
			expected = spec.byteSize();
		}
		catch (ArithmeticException ex) {
			throw SafetensorsFormatException.forTensor(source, name, "has a shape whose byte size overflows");
		}
		long length = offsets[1] - offsets[0];
		if (expected != length) {
			throw SafetensorsFormatException.forTensor(source, name, "has shape " + spec.shape() + " of dtype " + dtype
					+ " (" + expected + " bytes) but data_offsets span " + length + " bytes");
		}
		return new TensorEntry(spec, dataStart + offsets[0], length);
	}

	private static long[] nonNegativeLongs(JsonNode node, int expectedCount, String source, String tensor,
			String field) {
		if (node == null || !node.isArray() || (expectedCount >= 0 && node.size() != expectedCount)) {
			String wanted = (expectedCount >= 0) ? "an array of " + expectedCount + " integers"
					: "an array of integers";
			throw SafetensorsFormatException.forTensor(source, tensor, "has a " + field + " that is not " + wanted);
		}
		long[] values = new long[node.size()];
		for (int i = 0; i < values.length; i++) {
			JsonNode element = node.get(i);
			if (!element.isIntegralNumber() || !element.canConvertToLong() || element.asLong() < 0) {
				throw SafetensorsFormatException.forTensor(source, tensor,
						"has " + field + " entry " + element + ", not a non-negative 64-bit integer");
			}
			values[i] = element.asLong();
		}
		return values;
	}

	/**
	 * Tensor data must tile the data section exactly: sorted by offset, each tensor
	 * starts where the previous one ended, and the last one ends at the end of the file.
	 */
	private static void checkLayout(List<TensorEntry> tensors, long dataStart, long fileSize, String source) {
		tensors.sort(Comparator.comparingLong(TensorEntry::offset).thenComparingLong(TensorEntry::length));
		long position = dataStart;
		for (TensorEntry tensor : tensors) {
			long end = tensor.offset() + tensor.length();
			if (end > fileSize) {
				throw SafetensorsFormatException.forTensor(source, tensor.name(),
						"has data_offsets reaching byte " + (end - dataStart) + " beyond the end of the data section ("
								+ (fileSize - dataStart) + " bytes)");
			}
			if (tensor.offset() < position) {
				throw SafetensorsFormatException.forTensor(source, tensor.name(),
						"has data that overlaps the previous tensor");
			}
			if (tensor.offset() > position) {
				throw SafetensorsFormatException.forTensor(source, tensor.name(),
						"starts after a gap of " + (tensor.offset() - position) + " bytes in the data section");
			}
			position = end;
		}
		if (position != fileSize) {
			throw SafetensorsFormatException.forFile(source,
					"data section has " + (fileSize - position) + " trailing bytes not covered by any tensor");
		}
	}

	private static ByteBuffer readFully(FileChannel channel, long position, int length) throws IOException {
		ByteBuffer buffer = ByteBuffer.allocate(length);
		while (buffer.hasRemaining()) {
			if (channel.read(buffer, position + buffer.position()) < 0) {
				throw new IOException("unexpected end of file");
			}
		}
		return buffer.flip();
	}

}
