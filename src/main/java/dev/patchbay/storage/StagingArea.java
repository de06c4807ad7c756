package dev.patchbay.storage;

import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.UUID;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * This process's directory for files being written: staged blobs and the parts of
 * multipart requests. Each process stages in a directory of its own, holding a lock on it
 * while it runs, because replicas may share one blob store directory. At start, the
 * directories of processes that are gone (a lock nobody holds: kill -9, a power cut) are
 * deleted with everything their requests left half-written.
 */
public final class StagingArea implements Closeable {

	private static final Logger logger = LoggerFactory.getLogger(StagingArea.class);

	private static final String LOCK = ".lock";

	/** Staged files of the layout before per-process directories. */
	private static final Pattern LEGACY = Pattern.compile("blob-.*\\.part|upload_.*\\.tmp");

	private final Path directory;

	private final FileChannel lockChannel;

	private StagingArea(Path directory, FileChannel lockChannel) {
		this.directory = directory;
		this.lockChannel = lockChannel;
	}

	/** Sweeps what dead processes left under parent and creates this process's area. */
	static StagingArea open(Path parent) throws IOException {
		Files.createDirectories(parent);
		sweep(parent);
		Path directory = Files.createDirectory(parent.resolve(UUID.randomUUID().toString()));
		FileChannel channel = FileChannel.open(directory.resolve(LOCK), StandardOpenOption.CREATE_NEW,
				StandardOpenOption.WRITE);
		if (channel.tryLock() == null) {
			channel.close();
			throw new IOException("could not lock the new staging directory " + directory);
		}
		return new StagingArea(directory, channel);
	}

	/** The directory to stage in; it exists while this process runs. */
	public Path directory() {
		return this.directory;
	}

	/** Releases the area and deletes it: nothing staged outlives its request. */
	@Override
	public void close() throws IOException {
		try {
			deleteTree(this.directory);
		}
		finally {
			this.lockChannel.close();
		}
	}

	private static void sweep(Path parent) throws IOException {
		int swept = 0;
		try (Stream<Path> entries = Files.list(parent)) {
			for (Path entry : (Iterable<Path>) entries::iterator) {
				if (Files.isDirectory(entry) && sweepIfAbandoned(entry)) {
					swept++;
				}
				else if (Files.isRegularFile(entry) && LEGACY.matcher(entry.getFileName().toString()).matches()) {
					Files.deleteIfExists(entry);
					swept++;
				}
			}
		}
		if (swept > 0) {
			logger.info("Deleted {} staging area(s) and file(s) left in {} by processes that are gone", swept, parent);
		}
	}

	private static boolean sweepIfAbandoned(Path directory) throws IOException {
		// A directory without a lock file is being created right now, or is not ours.
		try (FileChannel channel = FileChannel.open(directory.resolve(LOCK), StandardOpenOption.WRITE)) {
			FileLock lock = channel.tryLock();
			if (lock == null) {
				return false;
			}
			deleteTree(directory);
			return true;
		}
		catch (NoSuchFileException | OverlappingFileLockException ex) {
			// Overlapping: another area of this very JVM, e.g. a second store in a test.
			return false;
		}
	}

	private static void deleteTree(Path directory) throws IOException {
		try (Stream<Path> tree = Files.walk(directory)) {
			for (Path path : (Iterable<Path>) tree.sorted(Comparator.reverseOrder())::iterator) {
				Files.deleteIfExists(path);
			}
		}
		catch (NoSuchFileException ex) {
			// Already gone.
		}
	}

}
