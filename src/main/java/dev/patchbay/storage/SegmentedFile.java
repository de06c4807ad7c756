package dev.patchbay.storage;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * A file assembled on the fly from byte arrays and regions of stored files, e.g. a new
 * header followed by tensors from several shards. Any byte range of it can be streamed
 * without holding it in memory.
 *
 * @param segments the parts, in order
 */
public record SegmentedFile(List<Segment> segments) {

	public SegmentedFile {
		segments = List.copyOf(segments);
	}

	public long size() {
		return this.segments.stream().mapToLong(Segment::length).sum();
	}

	/**
	 * Writes bytes [from, to) of the assembled file.
	 */
	public void transferTo(OutputStream out, long from, long to) throws IOException {
		WritableByteChannel target = Channels.newChannel(out);
		long start = 0;
		for (Segment segment : this.segments) {
			long end = start + segment.length();
			long lo = Math.max(from, start);
			long hi = Math.min(to, end);
			if (lo < hi) {
				segment.transferTo(target, lo - start, hi - lo);
			}
			start = end;
		}
		out.flush();
	}

	/**
	 * A part of a {@link SegmentedFile}.
	 */
	public sealed interface Segment {

		long length();

		void transferTo(WritableByteChannel target, long offset, long count) throws IOException;

	}

	/**
	 * Literal bytes, such as a generated header.
	 *
	 * @param bytes the bytes
	 */
	public record Bytes(byte[] bytes) implements Segment {

		@Override
		public long length() {
			return this.bytes.length;
		}

		@Override
		public void transferTo(WritableByteChannel target, long offset, long count) throws IOException {
			ByteBuffer buffer = ByteBuffer.wrap(this.bytes, (int) offset, (int) count);
			while (buffer.hasRemaining()) {
				target.write(buffer);
			}
		}

	}

	/**
	 * A byte range of a file on disk.
	 *
	 * @param path the file
	 * @param offset where the range starts
	 * @param length how many bytes it spans
	 */
	public record FileRegion(Path path, long offset, long length) implements Segment {

		@Override
		public void transferTo(WritableByteChannel target, long offset, long count) throws IOException {
			try (FileChannel channel = FileChannel.open(this.path, StandardOpenOption.READ)) {
				long position = this.offset + offset;
				long remaining = count;
				while (remaining > 0) {
					long sent = channel.transferTo(position, remaining, target);
					if (sent <= 0 && position >= channel.size()) {
						throw new IOException(this.path + " is shorter than recorded");
					}
					position += sent;
					remaining -= sent;
				}
			}
		}

	}

}
