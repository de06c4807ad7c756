package dev.patchbay.storage;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.regex.Pattern;

import org.springframework.stereotype.Component;

import dev.patchbay.shared.PayloadTooLargeException;

/**
 * Blob store on the local filesystem: {@code root/sha256/ab/abcdef…}, staged under
 * {@code root/tmp}. Commit is fsync, then an atomic rename, then fsync of the directory,
 * so a blob is either absent or whole after a crash.
 */
@Component
class FileSystemBlobStore implements BlobStore {

	private static final Pattern DIGEST = Pattern.compile("[0-9a-f]{64}");

	private final Path blobs;

	private final Path staging;

	FileSystemBlobStore(StorageProperties properties) throws IOException {
		this.blobs = Files.createDirectories(properties.root().resolve("sha256"));
		this.staging = Files.createDirectories(properties.root().resolve("tmp"));
	}

	@Override
	public BlobOutput create() throws IOException {
		return new BlobOutput(Files.createTempFile(this.staging, "blob-", ".part"));
	}

	@Override
	public StagedBlob stage(InputStream content, long maxBytes) throws IOException {
		try (BlobOutput out = create()) {
			byte[] buffer = new byte[1 << 16];
			long total = 0;
			int n;
			while ((n = content.read(buffer)) >= 0) {
				total += n;
				if (total > maxBytes) {
					throw new PayloadTooLargeException("upload-too-large", "Upload too large",
							"an uploaded file exceeds the limit of " + maxBytes + " bytes",
							Map.of("limitBytes", maxBytes));
				}
				out.write(buffer, 0, n);
			}
			return out.finish();
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
		// created,
		// which is harmless: the bytes are identical.
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

	private Path pathOf(String digest) {
		if (!DIGEST.matcher(digest).matches()) {
			throw new IllegalArgumentException("not a sha256 digest: " + digest);
		}
		return this.blobs.resolve(digest.substring(0, 2)).resolve(digest);
	}

}
