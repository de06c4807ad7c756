package dev.patchbay.storage;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Optional;

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
		long start = 0;
		for (Segment segment : this.segments) {
			long end = start + segment.length();
			long lo = Math.max(from, start);
			long hi = Math.min(to, end);
			if (lo < hi) {
				segment.transferTo(out, lo - start, hi - lo);
			}
			start = end;
		}
		out.flush();
	}

	/**
	 * The span of one stored file that holds bytes [from, to) of the assembled file, when
	 * they all lie in a single file region: such a span can be sent straight from the
	 * file to a socket.
	 * @return the span, or empty when the range crosses segments or covers literal bytes
	 */
	public Optional<FileRegion> regionOf(long from, long to) {
		long start = 0;
		for (Segment segment : this.segments) {
			long end = start + segment.length();
			if (from >= start && to <= end && from < to) {
				return (segment instanceof FileRegion region)
						? Optional.of(new FileRegion(region.path(), region.offset() + from - start, to - from))
						: Optional.empty();
			}
			start = end;
		}
		return Optional.empty();
	}

	/**
	 * A part of a {@link SegmentedFile}.
	 */
	public sealed interface Segment {

		long length();

		void transferTo(OutputStream out, long offset, long count) throws IOException;

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
		public void transferTo(OutputStream out, long offset, long count) throws IOException {
			out.write(this.bytes, (int) offset, (int) count);
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
		public void transferTo(OutputStream out, long offset, long count) throws IOException {
			try (FileChannel channel = FileChannel.open(this.path, StandardOpenOption.READ)) {
				if (this.offset + offset + count > channel.size()) {
					throw new IOException(this.path + " is shorter than recorded");
				}
				copy(channel, this.offset + offset, count, out);
			}
		}

	}

	/**
	 * Copies a span of a file to a stream through memory maps and one 1 MiB array: far
	 * fewer system calls and copies than {@code FileChannel.transferTo} to a stream,
	 * which moves 8 KiB at a time.
	 */
	public static void copy(FileChannel source, long position, long count, OutputStream out) throws IOException {
		byte[] buffer = new byte[(int) Math.min(count, 1 << 20)];
		long done = 0;
		while (done < count) {
			long span = Math.min(64L << 20, count - done);
			ByteBuffer map = source.map(FileChannel.MapMode.READ_ONLY, position + done, span);
			while (map.hasRemaining()) {
				int n = Math.min(buffer.length, map.remaining());
				map.get(buffer, 0, n);
				out.write(buffer, 0, n);
			}
			done += span;
		}
	}

}
