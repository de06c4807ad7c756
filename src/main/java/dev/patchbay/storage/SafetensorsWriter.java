package dev.patchbay.storage;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import dev.patchbay.shared.TensorSpec;

/**
 * Streams a safetensors file: the header first, since every offset follows from the
 * specs, then the tensors' bytes in the order given. Never holds more than the caller's
 * current buffer.
 */
public final class SafetensorsWriter implements AutoCloseable {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private final WritableByteChannel channel;

	private final List<TensorSpec> tensors;

	private int current;

	private long remainingInCurrent;

	/**
	 * Writes the header at once; tensor bytes follow through {@link #write(ByteBuffer)}.
	 */
	public SafetensorsWriter(OutputStream out, List<TensorSpec> tensors, Map<String, String> metadata)
			throws IOException {
		this(Channels.newChannel(out), tensors, metadata);
	}

	/**
	 * Writes to a channel, which receives the callers' buffers as they are, without
	 * copies.
	 */
	public SafetensorsWriter(WritableByteChannel channel, List<TensorSpec> tensors, Map<String, String> metadata)
			throws IOException {
		this.channel = channel;
		this.tensors = List.copyOf(tensors);
		ByteBuffer header = ByteBuffer.wrap(header(this.tensors, metadata));
		while (header.hasRemaining()) {
			channel.write(header);
		}
		this.current = -1;
		advance();
	}

	/**
	 * The complete header as it starts the file: 8-byte little-endian length, then JSON
	 * padded with spaces so that the data section starts on an 8-byte boundary.
	 */
	public static byte[] header(List<TensorSpec> tensors, Map<String, String> metadata) {
		ObjectNode root = JSON.createObjectNode();
		if (!metadata.isEmpty()) {
			ObjectNode meta = root.putObject("__metadata__");
			metadata.forEach(meta::put);
		}
		long offset = 0;
		for (TensorSpec tensor : tensors) {
			ObjectNode node = root.putObject(tensor.name());
			node.put("dtype", tensor.dtype().name());
			tensor.shape().forEach(node.putArray("shape")::add);
			long end = offset + tensor.byteSize();
			node.putArray("data_offsets").add(offset).add(end);
			offset = end;
		}
		byte[] json = JSON.writeValueAsBytes(root);
		int padded = (json.length + Long.BYTES + 7) / 8 * 8 - Long.BYTES;
		byte[] header = new byte[Long.BYTES + padded];
		ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).putLong(padded);
		System.arraycopy(json, 0, header, Long.BYTES, json.length);
		Arrays.fill(header, Long.BYTES + json.length, header.length, (byte) ' ');
		return header;
	}

	/**
	 * Total size of the file the specs describe.
	 */
	public static long fileSize(List<TensorSpec> tensors, Map<String, String> metadata) {
		return header(tensors, metadata).length + tensors.stream().mapToLong(TensorSpec::byteSize).sum();
	}

	/**
	 * Appends the next bytes of the tensors, which may span several tensors or part of
	 * one.
	 * @throws IllegalStateException if more bytes are written than the specs describe
	 */
	public void write(ByteBuffer data) throws IOException {
		while (data.hasRemaining()) {
			if (this.current >= this.tensors.size()) {
				throw new IllegalStateException("more bytes written than the header declares");
			}
			int n = (int) Math.min(data.remaining(), this.remainingInCurrent);
			ByteBuffer part = data.slice(data.position(), n);
			while (part.hasRemaining()) {
				this.channel.write(part);
			}
			data.position(data.position() + n);
			this.remainingInCurrent -= n;
			advance();
		}
	}

	private void advance() {
		while (this.remainingInCurrent == 0 && this.current < this.tensors.size()) {
			this.current++;
			this.remainingInCurrent = (this.current < this.tensors.size()) ? this.tensors.get(this.current).byteSize()
					: 0;
		}
	}

	/**
	 * Checks that every tensor was written whole. The underlying stream or channel is
	 * neither flushed nor closed: it belongs to the caller.
	 * @throws IllegalStateException if tensors are missing bytes
	 */
	@Override
	public void close() {
		if (this.current < this.tensors.size()) {
			throw new IllegalStateException("tensor '" + this.tensors.get(this.current).name() + "' is missing "
					+ this.remainingInCurrent + " bytes");
		}
	}

}
