package dev.patchbay.composition;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.util.Optional;

/**
 * The output of a composition while it is being computed into the result cache, readable
 * as it grows: downloads that arrive during the computation follow the file instead of
 * computing again. A new result's end is reported as soon as its last byte is written;
 * nothing waits for the disk. A result recomputed to refill the cache must match the
 * digest recorded when it was first computed, so its last byte is held back until it is
 * verified: a mismatch never reaches a reader as a complete file.
 */
final class LiveOutput {

	private final ResultCache.Writer output;

	private final long total;

	/** The digest a recomputed result must have, or null for a new result. */
	private final String expectedDigest;

	private volatile int tensorsDone;

	/** Set when the composition is cancelled: the writer stops at its next chunk. */
	private volatile boolean cancelled;

	private IOException failure;

	private boolean finished;

	LiveOutput(ResultCache.Writer output, String expectedDigest) {
		this.output = output;
		this.total = output.size();
		this.expectedDigest = expectedDigest;
	}

	long total() {
		return this.total;
	}

	long written() {
		return this.output.written();
	}

	int tensorsDone() {
		return this.tensorsDone;
	}

	synchronized void tensorDone(int tensorsDone) {
		this.tensorsDone = tensorsDone;
		notifyAll();
	}

	void cancel() {
		this.cancelled = true;
	}

	boolean isCancelled() {
		return this.cancelled;
	}

	/** Opens the bytes for reading. */
	FileChannel open() throws IOException {
		return FileChannel.open(this.output.path(), StandardOpenOption.READ);
	}

	/**
	 * Pins the cache entry for a reader, or empty if it is already gone (then the
	 * composition's state says where its result is).
	 */
	Optional<ResultCache.Handle> pin() {
		return this.output.pin();
	}

	/**
	 * Completes the output once every byte is written: hashes the tail, checks a
	 * recomputed result against its recorded digest, and releases readers.
	 * @return the result's digest
	 * @throws IOException if the bytes are incomplete or do not match
	 */
	String finish() throws IOException {
		String digest;
		try {
			digest = this.output.finish();
		}
		catch (IOException ex) {
			failed(ex);
			throw ex;
		}
		if (this.expectedDigest != null && !this.expectedDigest.equals(digest)) {
			IOException mismatch = new IOException(
					"recomputed result hashes to " + digest + ", not the recorded " + this.expectedDigest);
			failed(mismatch);
			throw mismatch;
		}
		synchronized (this) {
			this.finished = true;
			notifyAll();
		}
		return digest;
	}

	synchronized void failed(IOException failure) {
		if (!this.finished) {
			this.failure = failure;
			this.finished = true;
			notifyAll();
		}
	}

	/**
	 * Waits until more than {@code position} bytes are readable, or the output is
	 * finished.
	 * @return how many bytes are readable now
	 * @throws IOException if the computation failed
	 */
	synchronized long awaitBeyond(long position) throws IOException, InterruptedException {
		while (!this.finished && readable() <= position) {
			// Woken after each tensor; the timeout lets readers follow large tensors
			// chunk by chunk.
			wait(20);
		}
		if (this.failure != null) {
			throw new IOException("composition failed while streaming", this.failure);
		}
		return this.finished ? this.total : readable();
	}

	/**
	 * Waits until the output is finished or the deadline passes.
	 * @return whether it finished
	 * @throws IOException if the computation failed
	 */
	synchronized boolean awaitFinished(long deadlineNanos) throws IOException, InterruptedException {
		long left;
		while (!this.finished && (left = deadlineNanos - System.nanoTime()) > 0) {
			wait(Math.max(1, left / 1_000_000));
		}
		if (this.failure != null) {
			throw new IOException("composition failed", this.failure);
		}
		return this.finished;
	}

	private long readable() {
		long written = this.output.written();
		return (this.expectedDigest != null) ? Math.min(written, this.total - 1) : written;
	}

}
