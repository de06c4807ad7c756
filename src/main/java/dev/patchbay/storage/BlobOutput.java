package dev.patchbay.storage;

import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A blob being written to a private temporary file. {@link #finish()} makes it durable
 * and returns it staged for commit; closing an unfinished output deletes the file, so
 * nothing half-written survives a failure. {@link #written()} may be read from other
 * threads to follow the file while it grows. An output made {@link #withoutSync} never
 * forces its bytes to disk, for data that can be recomputed, and hashes them only once
 * they are all written: readers follow the bytes, not the hash, so hashing then leaves
 * the cores to the writer and its readers while the bytes are produced.
 * <p>
 * Hashing and flushing to disk happen behind the writer, on a thread of their own that
 * reads back what was written (from the page cache, by positional reads; a memory map
 * would keep a deleted file's blocks allocated until it is collected): the writer never
 * waits for SHA-256 or the disk until {@code finish()}, and on a second core both proceed
 * at once.
 */
public final class BlobOutput extends OutputStream implements WritableByteChannel {

	/** Bytes hashed between progress updates, and between background flushes to disk. */
	private static final long SPAN = 64L << 20;

	private static final long FLUSH_EVERY = 256L << 20;

	/** Bytes read back per read for hashing. */
	private static final int READ_BACK = 1 << 20;

	/**
	 * Bytes gathered before the hasher wakes, so small writes do not cost a wake-up each.
	 */
	private static final long BATCH = 4L << 20;

	private final Path path;

	private final FileChannel channel;

	private final MessageDigest digest;

	private final Thread hasher;

	private volatile long written;

	private long hashed;

	private IOException hashFailure;

	/** Used by the hasher only; allocated on first use. */
	private ByteBuffer readBack;

	private boolean finished;

	private volatile boolean closing;

	/** Whether bytes are forced to disk as they are hashed and at the end. */
	private final boolean durable;

	/**
	 * @param channel the file opened for reading and writing
	 */
	BlobOutput(Path path, FileChannel channel) {
		this(path, channel, true);
	}

	private BlobOutput(Path path, FileChannel channel, boolean durable) {
		this.path = path;
		this.channel = channel;
		this.durable = durable;
		try {
			this.digest = MessageDigest.getInstance("SHA-256");
		}
		catch (NoSuchAlgorithmException ex) {
			throw new IllegalStateException("every JVM has SHA-256", ex);
		}
		this.hasher = new Thread(this::hashBehind, "blob-hasher");
		this.hasher.setDaemon(true);
		this.hasher.start();
	}

	/**
	 * An output to a new file at {@code path} that is never forced to disk and is hashed
	 * when finished: after a crash the file may be torn, so it is trusted only by its
	 * digest.
	 */
	public static BlobOutput withoutSync(Path path) throws IOException {
		return new BlobOutput(path,
				FileChannel.open(path, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE),
				false);
	}

	public Path path() {
		return this.path;
	}

	public long written() {
		return this.written;
	}

	@Override
	public void write(int b) throws IOException {
		write(new byte[] { (byte) b }, 0, 1);
	}

	@Override
	public void write(byte[] bytes, int offset, int length) throws IOException {
		write(ByteBuffer.wrap(bytes, offset, length));
	}

	/**
	 * Writes the whole buffer straight to the file: no copy, no hashing on this thread.
	 */
	@Override
	public int write(ByteBuffer buffer) throws IOException {
		int length = buffer.remaining();
		while (buffer.hasRemaining()) {
			this.channel.write(buffer);
		}
		synchronized (this) {
			this.written += length;
			notifyAll();
		}
		return length;
	}

	@Override
	public boolean isOpen() {
		return !this.finished && this.channel.isOpen();
	}

	/**
	 * Hashes what the writer has written, span by span, and flushes it to disk now and
	 * then.
	 */
	private void hashBehind() {
		long flushed = 0;
		try {
			while (true) {
				long target;
				synchronized (this) {
					while ((!this.durable || this.written - this.hashed < BATCH) && !this.closing) {
						wait();
					}
					if (this.hashed == this.written) {
						return;
					}
					target = this.written;
				}
				while (this.hashed < target) {
					long span = Math.min(SPAN, target - this.hashed);
					hash(this.hashed, span);
					synchronized (this) {
						this.hashed += span;
						notifyAll();
					}
				}
				if (this.durable && this.hashed - flushed >= FLUSH_EVERY) {
					this.channel.force(false);
					flushed = this.hashed;
				}
			}
		}
		catch (IOException ex) {
			synchronized (this) {
				this.hashFailure = ex;
				notifyAll();
			}
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	private void hash(long from, long length) throws IOException {
		if (this.readBack == null) {
			this.readBack = ByteBuffer.allocateDirect(READ_BACK);
		}
		long end = from + length;
		for (long position = from; position < end;) {
			this.readBack.clear().limit((int) Math.min(READ_BACK, end - position));
			int n = this.channel.read(this.readBack, position);
			if (n < 0) {
				throw new EOFException(this.path + " is shorter than what was written to it");
			}
			this.digest.update(this.readBack.flip());
			position += n;
		}
	}

	/**
	 * Waits for the hash to catch up, forces the bytes to disk (unless made without sync)
	 * and hands them over for commit.
	 */
	public StagedBlob finish() throws IOException {
		synchronized (this) {
			this.closing = true;
			notifyAll();
		}
		try {
			this.hasher.join();
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new InterruptedIOException("interrupted while hashing " + this.path);
		}
		if (this.hashFailure != null) {
			throw this.hashFailure;
		}
		if (this.durable) {
			this.channel.force(true);
		}
		this.channel.close();
		this.finished = true;
		return new StagedBlob(this.path, HexFormat.of().formatHex(this.digest.digest()), this.written);
	}

	@Override
	public void close() throws IOException {
		if (!this.finished) {
			synchronized (this) {
				this.closing = true;
				notifyAll();
			}
			this.hasher.interrupt();
			this.channel.close();
			Files.deleteIfExists(this.path);
		}
	}

}
