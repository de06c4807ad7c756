package dev.patchbay.storage;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

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

	@Test
	void aLocalFileOnTheSameFilesystemIsStagedAsAHardLinkWithoutACopy() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		byte[] content = bytes(10_000, 15);
		Path file = Files.write(this.temp.resolve("result"), content);
		StagedBlob staged = store.stage(file, sha256(content));
		assertThat(Files.isSameFile(staged.path(), file)).isTrue();
		store.commit(staged);
		assertThat(Files.isSameFile(store.localPath(sha256(content)), file)).isTrue();
		Files.delete(file);
		assertThat(Files.readAllBytes(store.localPath(sha256(content)))).isEqualTo(content);
	}

}
