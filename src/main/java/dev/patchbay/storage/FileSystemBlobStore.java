package dev.patchbay.storage;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Blob store on the local filesystem: {@code root/sha256/ab/abcdef…}, staged under
 * {@code root/tmp}. Commit is fsync, then an atomic rename, then fsync of the directory,
 * so a blob is either absent or whole after a crash.
 */
class FileSystemBlobStore implements BlobStore {

	private static final Pattern DIGEST = Pattern.compile("[0-9a-f]{64}");

	private final Path blobs;

	private final Path staging;

	private final StagingFiles stagingFiles;

	FileSystemBlobStore(Path root) throws IOException {
		this(root, root.resolve("tmp"));
	}

	/**
	 * @param staging directory for files being written, on the same filesystem as root so
	 * that a commit is a rename
	 */
	FileSystemBlobStore(Path root, Path staging) throws IOException {
		this(root, staging, (path) -> FileChannel.open(path, StandardOpenOption.READ, StandardOpenOption.WRITE));
	}

	/**
	 * @param stagingFiles opens each staged file for writing; tests substitute a disk
	 * that fills up
	 */
	FileSystemBlobStore(Path root, Path staging, StagingFiles stagingFiles) throws IOException {
		this.blobs = Files.createDirectories(root.resolve("sha256"));
		this.staging = Files.createDirectories(staging);
		this.stagingFiles = stagingFiles;
	}

	@Override
	public BlobOutput create() throws IOException {
		Path part = Files.createTempFile(this.staging, "blob-", ".part");
		try {
			return new BlobOutput(part, this.stagingFiles.open(part));
		}
		catch (IOException | RuntimeException ex) {
			Files.deleteIfExists(part);
			throw ex;
		}
	}

	/** How a staged file is opened: read and write. */
	@FunctionalInterface
	interface StagingFiles {

		FileChannel open(Path part) throws IOException;

	}

	/**
	 * Stages the file as a hard link, no bytes copied, when it lies on the same
	 * filesystem; else as a copy. The link is trusted to hold {@code digest}: the caller
	 * hashed these very bytes (the same inode) as it wrote them, and never rewrites them.
	 */
	@Override
	public StagedBlob stage(Path file, String digest) throws IOException {
		Path link = this.staging.resolve("link-" + UUID.randomUUID() + ".part");
		try {
			Files.createLink(link, file);
		}
		catch (FileSystemException | UnsupportedOperationException ex) {
			return BlobStore.super.stage(file, digest);
		}
		try (FileChannel channel = FileChannel.open(link, StandardOpenOption.READ)) {
			channel.force(true);
			return new StagedBlob(link, digest, channel.size());
		}
		catch (IOException | RuntimeException ex) {
			Files.deleteIfExists(link);
			throw ex;
		}
	}

	@Override
	public boolean commit(StagedBlob staged) throws IOException {
		Path target = pathOf(staged.digest());
		if (Files.exists(target)) {
			staged.close();
			return false;
		}
		Path dir = Files.createDirectories(target.getParent());
		// rename(2) replaces a target that a concurrent upload of the same content just
		// created, which is harmless: the bytes are identical.
		Files.move(staged.path(), target, StandardCopyOption.ATOMIC_MOVE);
		try (FileChannel directory = FileChannel.open(dir, StandardOpenOption.READ)) {
			directory.force(true);
		}
		return true;
	}

	@Override
	public boolean exists(String digest) {
		return Files.exists(pathOf(digest));
	}

	@Override
	public Path localPath(String digest) {
		Path path = pathOf(digest);
		if (!Files.exists(path)) {
			throw BlobNotFoundException.forDigest(digest);
		}
		return path;
	}

	@Override
	public void delete(String digest) throws IOException {
		Files.deleteIfExists(pathOf(digest));
	}

	/** Every stored blob's digest and size, for a cache to rebuild its index. */
	Map<String, Long> list() throws IOException {
		Map<String, Long> sizes = new HashMap<>();
		try (Stream<Path> files = Files.walk(this.blobs, 2)) {
			for (Path file : (Iterable<Path>) files::iterator) {
				String name = file.getFileName().toString();
				if (DIGEST.matcher(name).matches() && Files.isRegularFile(file)) {
					sizes.put(name, Files.size(file));
				}
			}
		}
		return sizes;
	}

	private Path pathOf(String digest) {
		if (!DIGEST.matcher(digest).matches()) {
			throw new IllegalArgumentException("not a sha256 digest: " + digest);
		}
		return this.blobs.resolve(digest.substring(0, 2)).resolve(digest);
	}

}
