package dev.patchbay.composition;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import dev.patchbay.shared.Sha256;

import static org.assertj.core.api.Assertions.assertThat;

class ResultCacheTests {

	private static final String FIRST = "a".repeat(64);

	private static final String SECOND = "b".repeat(64);

	private static final String THIRD = "c".repeat(64);

	@TempDir
	Path directory;

	@Test
	void aPinnedEntryIsNotEvictedAndAnUnpinnedOneIs() throws IOException {
		ResultCache cache = new ResultCache(this.directory, 1_500);
		String first = write(cache, FIRST, bytes(1_000, 1));
		try (ResultCache.Handle reading = cache.open(FIRST, first).orElseThrow()) {
			String second = write(cache, SECOND, bytes(1_000, 2));
			assertThat(cache.contains(FIRST)).as("pinned by a reader").isTrue();
			assertThat(cache.contains(SECOND)).as("unpinned, beyond the size").isFalse();
			assertThat(cache.open(SECOND, second)).isEmpty();
			assertThat(Files.readAllBytes(reading.path())).isEqualTo(bytes(1_000, 1));
		}
		assertThat(cache.bytes()).isEqualTo(1_000);
		write(cache, THIRD, bytes(1_000, 3));
		assertThat(cache.contains(FIRST)).as("evicted once released").isFalse();
		assertThat(cache.contains(THIRD)).isTrue();
		assertThat(cache.evictions()).isEqualTo(2);
		assertThat(files()).hasSize(1);
	}

	@Test
	void anEntryBeingWrittenIsNeverEvictedAndOneClosedUnfinishedIsDropped() throws IOException {
		ResultCache cache = new ResultCache(this.directory, 100);
		try (ResultCache.Writer writer = cache.write(FIRST, 1_000)) {
			writer.write(ByteBuffer.wrap(bytes(500, 1)));
			write(cache, SECOND, bytes(1_000, 2));
			assertThat(cache.contains(FIRST)).isTrue();
			assertThat(cache.open(FIRST, Sha256.hex(bytes(500, 1)))).as("incomplete").isEmpty();
		}
		assertThat(cache.contains(FIRST)).isFalse();
		assertThat(files()).isEmpty();
	}

	@Test
	void afterARestartAnEntryIsTrustedOnlyIfItHashesToTheExpectedDigest() throws IOException {
		ResultCache before = new ResultCache(this.directory, 10_000);
		String whole = write(before, FIRST, bytes(1_000, 1));
		write(before, SECOND, bytes(1_000, 2));
		// A crash tore the second file: fewer bytes than were written.
		Path torn = files().stream()
			.filter((file) -> file.getFileName().toString().startsWith(SECOND))
			.findFirst()
			.orElseThrow();
		Files.write(torn, bytes(600, 2));

		ResultCache after = new ResultCache(this.directory, 10_000);
		assertThat(after.bytes()).isEqualTo(1_000 + 600);
		Optional<ResultCache.Handle> verified = after.open(FIRST, whole);
		assertThat(verified).isPresent();
		assertThat(Files.readAllBytes(verified.get().path())).isEqualTo(bytes(1_000, 1));
		verified.get().close();
		assertThat(after.open(SECOND, Sha256.hex(bytes(1_000, 2)))).isEmpty();
		assertThat(after.contains(SECOND)).as("a torn file is dropped").isFalse();
		assertThat(Files.exists(torn)).isFalse();
	}

	@Test
	void aRemovedEntryStaysReadableUntilItsLastReaderIsDone() throws IOException {
		ResultCache cache = new ResultCache(this.directory, 10_000);
		String digest = write(cache, FIRST, bytes(1_000, 1));
		ResultCache.Handle reading = cache.open(FIRST, digest).orElseThrow();
		cache.remove(FIRST);
		assertThat(cache.open(FIRST, digest)).isEmpty();
		assertThat(Files.readAllBytes(reading.path())).isEqualTo(bytes(1_000, 1));
		reading.close();
		assertThat(files()).isEmpty();
	}

	private static String write(ResultCache cache, String key, byte[] content) throws IOException {
		try (ResultCache.Writer writer = cache.write(key, content.length)) {
			writer.write(ByteBuffer.wrap(content));
			String digest = writer.finish();
			assertThat(digest).isEqualTo(Sha256.hex(content));
			return digest;
		}
	}

	private java.util.List<Path> files() throws IOException {
		try (Stream<Path> files = Files.list(this.directory)) {
			return files.toList();
		}
	}

	private static byte[] bytes(int length, int seed) {
		byte[] bytes = new byte[length];
		new java.util.Random(seed).nextBytes(bytes);
		return bytes;
	}

}
