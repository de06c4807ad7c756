package dev.patchbay.support;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Golden artifacts copied from {@code ../shared/fixtures}, and raw safetensors bytes for
 * crafting malformed files. Header parsing here is deliberately independent of the
 * production reader.
 */
public final class Fixtures {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private Fixtures() {
	}

	public static Path path(String relative) {
		try {
			return Path.of(Fixtures.class.getResource("/fixtures/" + relative).toURI());
		}
		catch (URISyntaxException | NullPointerException ex) {
			throw new IllegalArgumentException("no fixture " + relative, ex);
		}
	}

	/** Tensor name to "DTYPE[shape]" as the file's own header says. */
	public static Map<String, String> manifest(Path file) {
		try {
			byte[] bytes = Files.readAllBytes(file);
			long length = ByteBuffer.wrap(bytes, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
			JsonNode header = JSON.readTree(new String(bytes, 8, (int) length, StandardCharsets.UTF_8));
			Map<String, String> manifest = new LinkedHashMap<>();
			header.properties().forEach((entry) -> {
				if (!entry.getKey().equals("__metadata__")) {
					manifest.put(entry.getKey(),
							entry.getValue().get("dtype").asString() + entry.getValue().get("shape"));
				}
			});
			return manifest;
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/**
	 * Every F32 tensor of a safetensors file, by name (the fixtures compared are all
	 * F32).
	 */
	public static Map<String, float[]> floats(byte[] file) {
		long length = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
		JsonNode header = JSON.readTree(new String(file, 8, (int) length, StandardCharsets.UTF_8));
		Map<String, float[]> tensors = new LinkedHashMap<>();
		header.properties().forEach((entry) -> {
			JsonNode tensor = entry.getValue();
			if (entry.getKey().equals("__metadata__") || !tensor.get("dtype").asString().equals("F32")) {
				return;
			}
			int begin = (int) (8 + length + tensor.get("data_offsets").get(0).asLong());
			int end = (int) (8 + length + tensor.get("data_offsets").get(1).asLong());
			float[] values = new float[(end - begin) / 4];
			ByteBuffer.wrap(file, begin, end - begin).order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
			tensors.put(entry.getKey(), values);
		});
		return tensors;
	}

	public static Map<String, float[]> floats(Path file) {
		try {
			return floats(Files.readAllBytes(file));
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/** Tensor name to shape, as the file's header says. */
	public static Map<String, long[]> shapes(Path file) {
		Map<String, long[]> shapes = new LinkedHashMap<>();
		header(file).properties().forEach((entry) -> {
			if (!entry.getKey().equals("__metadata__")) {
				shapes.put(entry.getKey(),
						entry.getValue().get("shape").valueStream().mapToLong(JsonNode::asLong).toArray());
			}
		});
		return shapes;
	}

	/** The JSON header of a safetensors file given as bytes. */
	public static JsonNode header(byte[] file) {
		long length = ByteBuffer.wrap(file, 0, 8).order(ByteOrder.LITTLE_ENDIAN).getLong();
		return JSON.readTree(new String(file, 8, (int) length, StandardCharsets.UTF_8));
	}

	private static JsonNode header(Path file) {
		try {
			return header(Files.readAllBytes(file));
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/** A safetensors file of F32 tensors, in the order of {@code shapes}. */
	public static byte[] f32(Map<String, long[]> shapes, Map<String, float[]> values) {
		StringBuilder header = new StringBuilder("{");
		ByteArrayOutputStream data = new ByteArrayOutputStream();
		long offset = 0;
		for (Map.Entry<String, long[]> entry : shapes.entrySet()) {
			float[] tensor = values.get(entry.getKey());
			ByteBuffer bytes = ByteBuffer.allocate(tensor.length * 4).order(ByteOrder.LITTLE_ENDIAN);
			bytes.asFloatBuffer().put(tensor);
			data.writeBytes(bytes.array());
			long end = offset + tensor.length * 4L;
			header.append((header.length() > 1) ? "," : "")
				.append(String.format("\"%s\":{\"dtype\":\"F32\",\"shape\":%s,\"data_offsets\":[%d,%d]}",
						entry.getKey(), Arrays.toString(entry.getValue()).replace(" ", ""), offset, end));
			offset = end;
		}
		return raw(header.append('}').toString(), data.toByteArray());
	}

	/**
	 * A file made of an 8-byte little-endian header length, then the header, then data.
	 */
	public static byte[] raw(long declaredHeaderLength, String header, byte[] data) {
		ByteArrayOutputStream out = new ByteArrayOutputStream();
		byte[] prefix = new byte[8];
		ByteBuffer.wrap(prefix).order(ByteOrder.LITTLE_ENDIAN).putLong(declaredHeaderLength);
		out.writeBytes(prefix);
		out.writeBytes(header.getBytes(StandardCharsets.UTF_8));
		out.writeBytes(data);
		return out.toByteArray();
	}

	/** A file whose header length field is correct. */
	public static byte[] raw(String header, byte[] data) {
		return raw(header.getBytes(StandardCharsets.UTF_8).length, header, data);
	}

}
