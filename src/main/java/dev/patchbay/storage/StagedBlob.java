package dev.patchbay.storage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Bytes written to a temporary file and hashed, not yet committed. Closing it deletes the
 * temporary file if it was not committed, so a failed upload leaves nothing behind.
 *
 * @param path the temporary file, readable for validation before commit
 * @param digest lowercase hex sha256 of the content
 * @param size the content length in bytes
 */
public record StagedBlob(Path path, String digest, long size) implements AutoCloseable {

	@Override
	public void close() {
		try {
			Files.deleteIfExists(this.path);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

}
