package dev.patchbay.storage;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The pins of one reader of several blobs (a composition's inputs, the regions of a
 * shard), let go together. Each blob is pinned once however often it is asked for, and
 * stays in place until {@link #close()}: with the S3 store's local cache, a file a reader
 * resolved cannot be evicted while it still maps or streams it.
 */
public final class BlobPins implements AutoCloseable {

	private final BlobStore blobs;

	private final Map<String, BlobStore.Pin> pins = new LinkedHashMap<>();

	private boolean closed;

	public BlobPins(BlobStore blobs) {
		this.blobs = blobs;
	}

	/**
	 * The blob's local file, pinned until these pins close.
	 * @throws BlobNotFoundException if no such blob is stored
	 * @throws IllegalStateException if the pins are already closed
	 */
	public synchronized Path path(String digest) {
		if (this.closed) {
			throw new IllegalStateException("pins already released");
		}
		return this.pins.computeIfAbsent(digest, this.blobs::pin).path();
	}

	@Override
	public void close() {
		List<BlobStore.Pin> held;
		synchronized (this) {
			this.closed = true;
			held = new ArrayList<>(this.pins.values());
			this.pins.clear();
		}
		held.forEach(BlobStore.Pin::close);
	}

}
