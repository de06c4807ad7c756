package dev.patchbay.storage;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * A full disk, simulated without root: the blob store's staged files are written through
 * a file channel that, once the store's files would exceed {@link #CAPACITY}, writes to
 * {@code /dev/full} instead, so the upload fails with the kernel's own ENOSPC
 * ({@code No space left on device}).
 */
@IntegrationTest
class DiskFullIntegrationTests {

	/** More than one hashing batch, so that a failed upload was partly hashed. */
	private static final long CAPACITY = 8L << 20;

	@Autowired
	ApiClient api;

	@Autowired
	StorageProperties storage;

	@Test
	void uploadThatDoesNotFitIs507FreesItsStagingAndSmallerUploadsStillSucceed() throws IOException {
		byte[] large = Fixtures.f32(Map.of("w", new long[] { 3 << 20 }), Map.of("w", new float[3 << 20]));
		Response full = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "does-not-fit")).bytes("weights", "large.safetensors", large));
		assertThat(full.code()).as(new String(full.body())).isEqualTo(507);
		assertThat(full.contentType()).isEqualTo("application/problem+json");
		assertThat(full.json().get("type").asString()).endsWith("/insufficient-storage");
		// Each process stages in a directory of its own that holds only its lock at rest.
		try (Stream<Path> staged = Files.walk(this.storage.root().resolve("tmp"))) {
			assertThat(staged.filter(Files::isRegularFile)
				.filter((file) -> !file.getFileName().toString().equals(".lock"))
				.toList()).as("staged files left behind").isEmpty();
		}
		assertThat(deletedButMapped()).as("deleted staging files still holding disk space through a mapping").isEmpty();
		Response small = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "fits")).file("weights", Fixtures.path("digits/base_v1.safetensors")));
		assertThat(small.code()).as(new String(small.body())).isEqualTo(201);
		assertThat(this.api.get("/api/v1/models?name=does-not-fit").json().get("totalItems").asLong()).isZero();
	}

	/** Mappings of deleted staging files: their blocks stay allocated until unmapped. */
	private List<String> deletedButMapped() throws IOException {
		String staging = this.storage.root().resolve("tmp").toAbsolutePath().normalize().toString();
		try (Stream<String> maps = Files.lines(Path.of("/proc/self/maps"))) {
			return maps.filter((line) -> line.contains(staging) && line.endsWith("(deleted)")).toList();
		}
	}

	@TestConfiguration(proxyBeanMethods = false)
	static class SmallDisk {

		@Bean
		@Primary
		BlobStore smallDiskBlobStore(StorageProperties properties, StagingArea staging) throws IOException {
			Path root = properties.root();
			return new FileSystemBlobStore(root, staging.directory(), (part) -> new FillingChannel(
					FileChannel.open(part, StandardOpenOption.READ, StandardOpenOption.WRITE), root));
		}

	}

	/** A staged file on a disk of {@link #CAPACITY} bytes, shared by the whole store. */
	private static final class FillingChannel extends FileChannel {

		private final FileChannel file;

		private final Path root;

		FillingChannel(FileChannel file, Path root) {
			this.file = file;
			this.root = root;
		}

		@Override
		public int write(ByteBuffer source) throws IOException {
			if (used() + source.remaining() > CAPACITY) {
				try (FileChannel full = FileChannel.open(Path.of("/dev/full"), StandardOpenOption.WRITE)) {
					return full.write(source);
				}
			}
			return this.file.write(source);
		}

		private long used() throws IOException {
			try (Stream<Path> files = Files.walk(this.root)) {
				return files.filter(Files::isRegularFile).mapToLong((path) -> path.toFile().length()).sum();
			}
		}

		@Override
		public int read(ByteBuffer destination) throws IOException {
			return this.file.read(destination);
		}

		@Override
		public long read(ByteBuffer[] destinations, int offset, int length) throws IOException {
			return this.file.read(destinations, offset, length);
		}

		@Override
		public long write(ByteBuffer[] sources, int offset, int length) throws IOException {
			long written = 0;
			for (int i = offset; i < offset + length; i++) {
				written += write(sources[i]);
			}
			return written;
		}

		@Override
		public long position() throws IOException {
			return this.file.position();
		}

		@Override
		public FileChannel position(long position) throws IOException {
			this.file.position(position);
			return this;
		}

		@Override
		public long size() throws IOException {
			return this.file.size();
		}

		@Override
		public FileChannel truncate(long size) throws IOException {
			this.file.truncate(size);
			return this;
		}

		@Override
		public void force(boolean metaData) throws IOException {
			this.file.force(metaData);
		}

		@Override
		public long transferTo(long position, long count, WritableByteChannel target) throws IOException {
			return this.file.transferTo(position, count, target);
		}

		@Override
		public long transferFrom(ReadableByteChannel source, long position, long count) throws IOException {
			throw new UnsupportedOperationException("staged files are written sequentially");
		}

		@Override
		public int read(ByteBuffer destination, long position) throws IOException {
			return this.file.read(destination, position);
		}

		@Override
		public int write(ByteBuffer source, long position) throws IOException {
			throw new UnsupportedOperationException("staged files are written sequentially");
		}

		@Override
		public MappedByteBuffer map(MapMode mode, long position, long size) throws IOException {
			return this.file.map(mode, position, size);
		}

		@Override
		public FileLock lock(long position, long size, boolean shared) throws IOException {
			return this.file.lock(position, size, shared);
		}

		@Override
		public FileLock tryLock(long position, long size, boolean shared) throws IOException {
			return this.file.tryLock(position, size, shared);
		}

		@Override
		protected void implCloseChannel() throws IOException {
			this.file.close();
		}

	}

}
