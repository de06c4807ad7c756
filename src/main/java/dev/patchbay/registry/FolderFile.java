package dev.patchbay.registry;

import java.io.IOException;

import dev.patchbay.storage.SegmentedFile;

/**
 * One file of a model, patch or composition seen as a Hugging Face folder: a stored blob
 * as uploaded, or a file generated on the fly (a weight shard, the shard index, an
 * updated {@code config.json}, a model card).
 *
 * @param path the relative path in the folder
 * @param size the exact size in bytes, known before any byte is read
 * @param etag a strong validator: the same etag always means the same bytes
 * @param sha256 the digest of the bytes, or null where it is only known once they exist
 * and have been read (a shard of a composition not yet computed)
 * @param deferred whether opening may wait for a computation to produce the bytes
 * @param source opens the bytes
 */
public record FolderFile(String path, long size, String etag, String sha256, boolean deferred, Source source) {

	/** The same file with its digest known. */
	public FolderFile withSha256(String sha256) {
		return new FolderFile(this.path, this.size, this.etag, sha256, this.deferred, this.source);
	}

	/** Opens a file's bytes. */
	@FunctionalInterface
	public interface Source {

		/**
		 * The bytes, held (pinned in a cache, say) until the result is closed; may wait
		 * for a computation when the file is {@linkplain FolderFile#deferred deferred}.
		 */
		Opened open() throws IOException;

	}

	/**
	 * A file's bytes, readable until closed.
	 *
	 * @param file the bytes
	 * @param release lets go of them
	 */
	public record Opened(SegmentedFile file, Runnable release) implements AutoCloseable {

		public static Opened of(SegmentedFile file) {
			return new Opened(file, () -> {
			});
		}

		@Override
		public void close() {
			this.release.run();
		}

	}

}
