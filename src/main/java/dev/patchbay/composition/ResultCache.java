package dev.patchbay.composition;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import dev.patchbay.storage.BlobOutput;
import dev.patchbay.storage.StagedBlob;

/**
 * Composition results on local disk, keyed by recipe digest, least recently used evicted
 * beyond a size in bytes. Entries are written without fsync: a result can always be
 * recomputed, so it is trusted by its digest, never by having survived. Each entry is
 * pinned while a job writes it or a reader reads it, and a pinned entry is never evicted
 * (the cache may exceed its size while everything in it is pinned).
 * <p>
 * An entry written here knows its digest (hashed as it was written). Files found at start
 * are not trusted until their first use hashes them against the digest the caller
 * expects; a torn file from a crash fails that check and is dropped.
 */
final class ResultCache {

	private static final Logger logger = LoggerFactory.getLogger(ResultCache.class);

	/** Entry files: the recipe digest and a suffix unique to the entry. */
	private static final Pattern FILE = Pattern.compile("([0-9a-f]{64})\\.([0-9a-f]{8})");

	private final Path directory;

	private final long capacity;

	/** Entries in least-recently-used order. */
	private final LinkedHashMap<String, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);

	private long bytes;

	private long evictions;

	/**
	 * Opens the cache in {@code directory}, taking every entry file there as an entry yet
	 * to be verified.
	 */
	ResultCache(Path directory, long capacity) throws IOException {
		this.directory = Files.createDirectories(directory);
		this.capacity = capacity;
		List<Path> found = new ArrayList<>();
		try (Stream<Path> files = Files.list(directory)) {
			files.filter(Files::isRegularFile).forEach(found::add);
		}
		// Oldest first, so that the most recently written entries are the most recently
		// used.
		found.sort((a, b) -> Long.compare(a.toFile().lastModified(), b.toFile().lastModified()));
		for (Path file : found) {
			Matcher name = FILE.matcher(file.getFileName().toString());
			if (!name.matches()) {
				continue;
			}
			Entry stale = this.entries.get(name.group(1));
			if (stale != null) {
				detach(stale);
			}
			Entry entry = new Entry(name.group(1), file, Files.size(file));
			entry.complete = true;
			this.entries.put(entry.key, entry);
			this.bytes += entry.size;
		}
		synchronized (this) {
			evictBeyondCapacity();
		}
	}

	/**
	 * Starts writing the entry for {@code key}, replacing any entry it had; the writer
	 * holds a pin until closed, and an entry closed unfinished is dropped.
	 */
	Writer write(String key, long size) throws IOException {
		Entry entry = new Entry(key, this.directory.resolve(key + "." + UUID.randomUUID().toString().substring(0, 8)),
				size);
		entry.pins = 1;
		BlobOutput output = BlobOutput.withoutSync(entry.path);
		synchronized (this) {
			Entry previous = this.entries.put(key, entry);
			if (previous != null) {
				this.bytes -= previous.size;
				retire(previous);
			}
			this.bytes += size;
			evictBeyondCapacity();
		}
		return new Writer(entry, output);
	}

	/**
	 * Pins the complete entry for {@code key} if its content hashes to {@code digest}. An
	 * entry that does not (a torn file from before a restart, or a result computed
	 * differently) is dropped. Without a digest to check (a sharded composition's whole
	 * file before it was first recomputed whole), only an entry written here is trusted.
	 * @return the pinned entry, or empty if there is none, it is still being written, or
	 * it did not match
	 */
	Optional<Handle> open(String key, String digest) throws IOException {
		Entry entry;
		synchronized (this) {
			entry = this.entries.get(key);
			if (entry == null || !entry.complete) {
				return Optional.empty();
			}
			entry.pins++;
		}
		Handle handle = new Handle(entry);
		try {
			String actual = (digest != null) ? entry.digest() : entry.writtenDigest();
			if ((digest != null) ? actual.equals(digest) : actual != null) {
				return Optional.of(handle);
			}
			if (digest != null) {
				logger.warn("Cached result {} hashes to {}, not {}; dropping it", key, actual, digest);
			}
		}
		catch (IOException ex) {
			handle.close();
			throw ex;
		}
		handle.close();
		remove(entry);
		return Optional.empty();
	}

	/** Drops the entry for {@code key}; readers that pinned it keep reading it. */
	synchronized void remove(String key) {
		Entry entry = this.entries.get(key);
		if (entry != null) {
			remove(entry);
		}
	}

	/** Bytes of the entries held, pinned or not. */
	synchronized long bytes() {
		return this.bytes;
	}

	/** Entries evicted to stay within the size so far. */
	synchronized long evictions() {
		return this.evictions;
	}

	synchronized boolean contains(String key) {
		return this.entries.containsKey(key);
	}

	private synchronized void remove(Entry entry) {
		if (this.entries.get(entry.key) == entry) {
			this.entries.remove(entry.key);
			this.bytes -= entry.size;
			retire(entry);
		}
	}

	/** An entry no longer in the map goes when its last pin does. */
	private void retire(Entry entry) {
		entry.retired = true;
		if (entry.pins == 0) {
			delete(entry);
		}
	}

	private void detach(Entry entry) {
		this.entries.remove(entry.key);
		this.bytes -= entry.size;
		delete(entry);
	}

	private synchronized void release(Entry entry) {
		entry.pins--;
		if (entry.pins > 0) {
			return;
		}
		if (entry.retired) {
			delete(entry);
		}
		else {
			evictBeyondCapacity();
		}
	}

	private void evictBeyondCapacity() {
		Iterator<Map.Entry<String, Entry>> eldest = this.entries.entrySet().iterator();
		while (this.bytes > this.capacity && eldest.hasNext()) {
			Entry entry = eldest.next().getValue();
			if (entry.pins == 0 && entry.complete) {
				eldest.remove();
				this.bytes -= entry.size;
				this.evictions++;
				entry.retired = true;
				delete(entry);
			}
		}
	}

	private static void delete(Entry entry) {
		try {
			Files.deleteIfExists(entry.path);
		}
		catch (IOException ex) {
			logger.warn("Could not delete cached result {}", entry.path, ex);
		}
	}

	/** One result file and who uses it; guarded by the cache's lock except the digest. */
	private static final class Entry {

		private final String key;

		private final Path path;

		private final long size;

		private int pins;

		private boolean complete;

		private boolean retired;

		/** Known once written here or verified; null for a file found at start. */
		private String digest;

		Entry(String key, Path path, long size) {
			this.key = key;
			this.path = path;
			this.size = size;
		}

		/**
		 * The content's digest, hashing the file on first use if it was found at start.
		 */
		synchronized String digest() throws IOException {
			if (this.digest == null) {
				this.digest = sha256(this.path);
			}
			return this.digest;
		}

		/** The digest if the entry was written (or verified) here, else null. */
		synchronized String writtenDigest() {
			return this.digest;
		}

		synchronized void written(String digest) {
			this.digest = digest;
		}

	}

	private static String sha256(Path file) throws IOException {
		MessageDigest digest;
		try {
			digest = MessageDigest.getInstance("SHA-256");
		}
		catch (NoSuchAlgorithmException ex) {
			throw new IllegalStateException("every JVM has SHA-256", ex);
		}
		try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
			long size = channel.size();
			for (long position = 0; position < size; position += 64L << 20) {
				digest
					.update(channel.map(FileChannel.MapMode.READ_ONLY, position, Math.min(64L << 20, size - position)));
			}
		}
		return HexFormat.of().formatHex(digest.digest());
	}

	/** A pin on an entry: its file stays while the handle is open. */
	final class Handle implements AutoCloseable {

		private final Entry entry;

		private boolean closed;

		private Handle(Entry entry) {
			this.entry = entry;
		}

		Path path() {
			return this.entry.path;
		}

		long size() {
			return this.entry.size;
		}

		/** The content's digest, hashed now if the file was found at start. */
		String digest() throws IOException {
			return this.entry.digest();
		}

		@Override
		public synchronized void close() {
			if (!this.closed) {
				this.closed = true;
				release(this.entry);
			}
		}

	}

	/**
	 * Writes an entry: the file grows as the job writes and may be followed by readers
	 * meanwhile. {@link #finish} completes it with its digest.
	 */
	final class Writer implements WritableByteChannel {

		private final Entry entry;

		private final BlobOutput output;

		private final Handle pin;

		private boolean finished;

		private Writer(Entry entry, BlobOutput output) {
			this.entry = entry;
			this.output = output;
			this.pin = new Handle(entry);
		}

		Path path() {
			return this.entry.path;
		}

		long size() {
			return this.entry.size;
		}

		long written() {
			return this.output.written();
		}

		@Override
		public int write(ByteBuffer buffer) throws IOException {
			return this.output.write(buffer);
		}

		@Override
		public boolean isOpen() {
			return this.output.isOpen();
		}

		/**
		 * Another pin on the entry, for a reader following it, or empty once the entry is
		 * gone (the job failed, or it finished and the entry was evicted).
		 */
		Optional<Handle> pin() {
			synchronized (ResultCache.this) {
				if (this.entry.retired) {
					return Optional.empty();
				}
				this.entry.pins++;
			}
			return Optional.of(new Handle(this.entry));
		}

		/**
		 * Waits for the hash to catch up and completes the entry; no byte is forced to
		 * disk.
		 * @return the content's digest
		 * @throws IOException if fewer or more bytes than the size were written
		 */
		String finish() throws IOException {
			StagedBlob staged = this.output.finish();
			if (staged.size() != this.entry.size) {
				throw new IOException(
						"result " + this.entry.key + " has " + staged.size() + " bytes, not " + this.entry.size);
			}
			this.entry.written(staged.digest());
			synchronized (ResultCache.this) {
				this.entry.complete = true;
				this.finished = true;
			}
			return staged.digest();
		}

		/** Releases the writer's pin; an unfinished entry is dropped. */
		@Override
		public void close() throws IOException {
			try {
				if (!this.finished) {
					this.output.close();
					remove(this.entry);
				}
			}
			finally {
				this.pin.close();
			}
		}

	}

}
