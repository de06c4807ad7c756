package dev.patchbay.storage;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import dev.patchbay.shared.PayloadTooLargeException;
import dev.patchbay.shared.ProblemKind;

/**
 * Content-addressed, immutable blob storage keyed by lowercase hex sha256. Writes are
 * two-phase: {@link #stage} streams bytes to a private temporary file while hashing them,
 * and {@link #commit} makes them durable and visible under their digest. Nothing staged
 * is visible until committed.
 */
public interface BlobStore extends Closeable {

	/**
	 * Opens a new staged blob for writing; the caller finishes or closes it.
	 */
	BlobOutput create() throws IOException;

	/**
	 * Streams {@code content} to a durable temporary file, hashing it on the way.
	 * @param maxBytes the most bytes accepted
	 * @throws dev.patchbay.shared.PayloadTooLargeException if the content exceeds
	 * maxBytes; nothing is left behind
	 */
	default StagedBlob stage(InputStream content, long maxBytes) throws IOException {
		try (BlobOutput out = create()) {
			byte[] buffer = new byte[1 << 16];
			long total = 0;
			int n;
			while ((n = content.read(buffer)) >= 0) {
				total += n;
				if (total > maxBytes) {
					throw new PayloadTooLargeException(ProblemKind.UPLOAD_TOO_LARGE,
							"an uploaded file exceeds the limit of " + maxBytes + " bytes",
							Map.of("limitBytes", maxBytes));
				}
				out.write(buffer, 0, n);
			}
			return out.finish();
		}
	}

	/**
	 * Stages a durable copy of a local file whose digest the caller already knows, e.g. a
	 * result hashed as it was written. The copy is hashed again and refused if it does
	 * not match; a store may link the file instead of copying it.
	 * @throws IOException if the file's content does not hash to {@code digest}
	 */
	default StagedBlob stage(Path file, String digest) throws IOException {
		StagedBlob staged;
		try (InputStream in = Files.newInputStream(file)) {
			staged = stage(in, Long.MAX_VALUE);
		}
		if (!staged.digest().equals(digest)) {
			staged.close();
			throw new IOException(file + " hashes to " + staged.digest() + ", not " + digest);
		}
		return staged;
	}

	/**
	 * Publishes a staged blob under its digest, atomically.
	 * @return true if the blob is new, false if identical content was already stored
	 */
	boolean commit(StagedBlob staged) throws IOException;

	boolean exists(String digest);

	/**
	 * A local file holding the blob's bytes, for memory-mapped reads.
	 * @throws BlobNotFoundException if no such blob is stored
	 */
	Path localPath(String digest);

	/**
	 * The blob's local file, kept in place until the pin is closed: a cache may not evict
	 * it in between, so a reader can open it at leisure. Readers that open the file later
	 * than at once (a composition, a download) hold a pin while they read.
	 * @throws BlobNotFoundException if no such blob is stored
	 */
	default Pin pin(String digest) {
		Path path = localPath(digest);
		return new Pin(path, () -> {
		});
	}

	/**
	 * A blob's local file held in place.
	 *
	 * @param path the file
	 * @param release lets the file go
	 */
	record Pin(Path path, Runnable release) implements AutoCloseable {

		@Override
		public void close() {
			this.release.run();
		}

	}

	/**
	 * Removes a blob; absent blobs are ignored.
	 */
	void delete(String digest) throws IOException;

	/** Releases connections; the store is not used afterwards. */
	@Override
	default void close() throws IOException {
	}

}
