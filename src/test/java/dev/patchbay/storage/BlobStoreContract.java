package dev.patchbay.storage;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.patchbay.shared.PayloadTooLargeException;
import dev.patchbay.shared.Sha256;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

/**
 * What every blob store guarantees, whatever holds the bytes: content addressing by
 * sha256, nothing visible before commit, nothing left behind by a failed or abandoned
 * write, and reads that return exactly the committed bytes.
 */
abstract class BlobStoreContract {

	@TempDir
	Path temp;

	/** A store over fresh, empty storage whose local files live under {@code root}. */
	abstract BlobStore newStore(Path root) throws IOException;

	/**
	 * Another instance over the same storage, as a second replica or a restart sees it,
	 * with its local files under {@code root}.
	 */
	abstract BlobStore reopen(Path root) throws IOException;

	/** The size above which a store splits a write, to exercise; 0 if it never does. */
	abstract long splitSize();

	@Test
	void aCommittedBlobIsAddressedByTheSha256OfItsContentAndReadsBackExactly() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		byte[] content = bytes(100_000, 1);
		StagedBlob staged = store.stage(new ByteArrayInputStream(content), Long.MAX_VALUE);
		assertThat(staged.digest()).isEqualTo(sha256(content));
		assertThat(staged.size()).isEqualTo(content.length);
		assertThat(store.exists(staged.digest())).as("visible before commit").isFalse();
		assertThat(store.commit(staged)).isTrue();
		assertThat(store.exists(staged.digest())).isTrue();
		assertThat(Files.readAllBytes(store.localPath(staged.digest()))).isEqualTo(content);
		assertThat(Files.exists(staged.path())).as("staging file after commit").isFalse();
	}

	@Test
	void aLocalFileOfKnownDigestIsStagedDurablyAndLeftInPlace() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		byte[] content = bytes(50_000, 14);
		Path file = Files.write(Files.createDirectories(this.temp.resolve("results")).resolve("result"), content);
		StagedBlob staged = store.stage(file, sha256(content));
		assertThat(store.exists(staged.digest())).as("visible before commit").isFalse();
		store.commit(staged);
		assertThat(Files.readAllBytes(store.localPath(sha256(content)))).isEqualTo(content);
		assertThat(Files.readAllBytes(file)).isEqualTo(content);
	}

	@Test
	void aBlobLargerThanOneWriteRoundTripsThroughAnotherInstance() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		byte[] content = bytes((int) Math.max(2 * splitSize() + 12_345, 3_000_000), 2);
		StagedBlob staged;
		try (BlobOutput out = store.create()) {
			for (int offset = 0; offset < content.length; offset += 1 << 20) {
				out.write(content, offset, Math.min(1 << 20, content.length - offset));
			}
			staged = out.finish();
		}
		assertThat(store.commit(staged)).isTrue();
		BlobStore other = reopen(this.temp.resolve("b"));
		assertThat(other.exists(sha256(content))).isTrue();
		assertThat(Files.readAllBytes(other.localPath(sha256(content)))).isEqualTo(content);
	}

	@Test
	void committingIdenticalContentAgainKeepsOneBlobAndDropsTheStagedCopy() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		byte[] content = bytes(5_000, 3);
		assertThat(store.commit(store.stage(new ByteArrayInputStream(content), Long.MAX_VALUE))).isTrue();
		StagedBlob again = store.stage(new ByteArrayInputStream(content), Long.MAX_VALUE);
		assertThat(store.commit(again)).isFalse();
		assertThat(Files.exists(again.path())).isFalse();
		assertThat(Files.readAllBytes(store.localPath(again.digest()))).isEqualTo(content);
	}

	@Test
	void anAbandonedOrOversizedWriteLeavesNothingBehind() throws IOException {
		Path root = this.temp.resolve("a");
		BlobStore store = newStore(root);
		byte[] content = bytes(10_000, 4);
		try (BlobOutput out = store.create()) {
			out.write(content, 0, content.length);
		}
		assertThatExceptionOfType(PayloadTooLargeException.class)
			.isThrownBy(() -> store.stage(new ByteArrayInputStream(content), content.length - 1));
		assertThat(store.exists(sha256(content))).isFalse();
		try (var files = Files.walk(root)) {
			assertThat(files.filter(Files::isRegularFile)).as("files left under " + root).isEmpty();
		}
	}

	@Test
	void anUnknownBlobIsNotFoundAndDeletingItIsHarmless() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		String digest = sha256(new byte[] { 42 });
		assertThat(store.exists(digest)).isFalse();
		assertThatExceptionOfType(BlobNotFoundException.class).isThrownBy(() -> store.localPath(digest));
		store.delete(digest);
	}

	@Test
	void aDeletedBlobIsGoneForEveryInstance() throws IOException {
		BlobStore store = newStore(this.temp.resolve("a"));
		StagedBlob staged = store.stage(new ByteArrayInputStream(bytes(2_000, 5)), Long.MAX_VALUE);
		store.commit(staged);
		BlobStore other = reopen(this.temp.resolve("b"));
		other.localPath(staged.digest());
		store.delete(staged.digest());
		assertThat(store.exists(staged.digest())).isFalse();
		assertThat(other.exists(staged.digest())).isFalse();
		assertThatExceptionOfType(BlobNotFoundException.class).isThrownBy(() -> store.localPath(staged.digest()));
	}

	static byte[] bytes(int size, long seed) {
		byte[] content = new byte[size];
		new Random(seed).nextBytes(content);
		return content;
	}

	static String sha256(byte[] content) {
		return Sha256.hex(content);
	}

}
