package dev.patchbay.storage;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A blob being written to a private temporary file, hashed as it goes. {@link #finish()}
 * makes it durable and returns it staged for commit; closing an unfinished output deletes
 * the file, so nothing half-written survives a failure. {@link #written()} may be read
 * from other threads to follow the file while it grows.
 */
public final class BlobOutput extends OutputStream {

	private final Path path;

	private final FileChannel channel;

	private final MessageDigest digest;

	private volatile long written;

	private boolean finished;

	BlobOutput(Path path) throws IOException {
		this.path = path;
		this.channel = FileChannel.open(path, StandardOpenOption.WRITE);
		try {
			this.digest = MessageDigest.getInstance("SHA-256");
		}
		catch (NoSuchAlgorithmException ex) {
			throw new IllegalStateException("every JVM has SHA-256", ex);
		}
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
		ByteBuffer buffer = ByteBuffer.wrap(bytes, offset, length);
		this.digest.update(buffer.duplicate());
		while (buffer.hasRemaining()) {
			this.channel.write(buffer);
		}
		this.written += length;
	}

	/**
	 * Forces the bytes to disk and hands them over for commit.
	 */
	public StagedBlob finish() throws IOException {
		this.channel.force(true);
		this.channel.close();
		this.finished = true;
		return new StagedBlob(this.path, HexFormat.of().formatHex(this.digest.digest()), this.written);
	}

	@Override
	public void close() throws IOException {
		if (!this.finished) {
			this.channel.close();
			Files.deleteIfExists(this.path);
		}
	}

}
