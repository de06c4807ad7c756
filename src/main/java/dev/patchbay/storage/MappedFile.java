package dev.patchbay.storage;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * A stored file mapped once for reading, in windows, so that a composition slices any
 * span of it without a map (and its page-table set-up) per chunk. Windows start every 1
 * GiB and span 2 GiB (less a byte), so every span of up to 1 GiB lies inside one window
 * whatever its offset; a Java buffer cannot address more than 2 GiB. Safe for concurrent
 * slicing.
 * <p>
 * Java 17 cannot unmap a buffer on demand: closing releases the file, and the windows go
 * when they are collected. They map the page cache, so they cost address space, not
 * anonymous memory.
 */
public final class MappedFile implements Closeable {

	private static final long STRIDE = 1L << 30;

	/** The longest span {@link #slice} accepts. */
	public static final int MAX_SPAN = (int) STRIDE;

	private final Path path;

	private final FileChannel channel;

	private final long size;

	private final MappedByteBuffer[] windows;

	public MappedFile(Path path) throws IOException {
		this.path = path;
		this.channel = FileChannel.open(path, StandardOpenOption.READ);
		this.size = this.channel.size();
		this.windows = new MappedByteBuffer[(int) Math.max(1, (this.size + STRIDE - 1) / STRIDE)];
	}

	public Path path() {
		return this.path;
	}

	/**
	 * A little-endian view of bytes [position, position + length), sharing the page
	 * cache.
	 * @throws IOException if the span lies beyond the end of the file, or the file cannot
	 * be mapped
	 */
	public ByteBuffer slice(long position, int length) throws IOException {
		if (length < 0 || length > MAX_SPAN || position < 0 || position + length > this.size) {
			throw new IOException("span [" + position + ", " + (position + length) + ") lies outside " + this.path
					+ " (" + this.size + " bytes)");
		}
		int index = (int) (position / STRIDE);
		ByteBuffer window = window(index);
		int offset = (int) (position - index * STRIDE);
		return window.slice(offset, length).order(ByteOrder.LITTLE_ENDIAN);
	}

	private synchronized ByteBuffer window(int index) throws IOException {
		if (this.windows[index] == null) {
			long start = index * STRIDE;
			this.windows[index] = this.channel.map(FileChannel.MapMode.READ_ONLY, start,
					Math.min(Integer.MAX_VALUE, this.size - start));
		}
		return this.windows[index];
	}

	@Override
	public void close() throws IOException {
		this.channel.close();
	}

}
