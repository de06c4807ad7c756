package dev.patchbay.storage;

import java.io.IOException;
import java.nio.file.Path;

class FileSystemBlobStoreTests extends BlobStoreContract {

	private Path root;

	@Override
	BlobStore newStore(Path root) throws IOException {
		this.root = root;
		return new FileSystemBlobStore(root);
	}

	/**
	 * Replicas of the filesystem store share one directory, e.g. a ReadWriteMany volume.
	 */
	@Override
	BlobStore reopen(Path ignored) throws IOException {
		return new FileSystemBlobStore(this.root);
	}

	@Override
	long splitSize() {
		return 0;
	}

}
