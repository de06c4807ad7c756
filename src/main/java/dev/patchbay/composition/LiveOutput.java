package dev.patchbay.composition;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import dev.patchbay.storage.BlobOutput;

/**
 * The output of a composition while it is being computed, readable as it grows: downloads
 * that arrive during the computation follow the file instead of computing again.
 */
final class LiveOutput {

	private final BlobOutput output;

	private final long total;

	private volatile int tensorsDone;

	private Path committed;

	private IOException failure;

	private boolean finished;

	LiveOutput(BlobOutput output, long total) {
		this.output = output;
		this.total = total;
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

	/**
	 * Opens the bytes for reading: the growing temporary file, or the committed blob once
	 * the temporary file has been moved.
	 */
	synchronized FileChannel open() throws IOException {
		return FileChannel.open((this.committed != null) ? this.committed : this.output.path(),
				StandardOpenOption.READ);
	}

	/**
	 * Publishes the output, moving it away from the temporary path while no reader is
	 * opening it.
	 */
	synchronized void commit(Commit commit) throws IOException {
		this.committed = commit.run();
		this.finished = true;
		notifyAll();
	}

	@FunctionalInterface
	interface Commit {

		/** Commits the bytes and returns where they now are. */
		Path run() throws IOException;

	}

	synchronized void failed(IOException failure) {
		this.failure = failure;
		this.finished = true;
		notifyAll();
	}

	/**
	 * Waits until more than {@code position} bytes are written, or the output is
	 * finished.
	 * @return how many bytes are readable now
	 * @throws IOException if the computation failed
	 */
	synchronized long awaitBeyond(long position) throws IOException, InterruptedException {
		while (!this.finished && this.output.written() <= position) {
			// Woken after each tensor; the timeout lets readers follow large tensors
			// chunk by chunk.
			wait(20);
		}
		if (this.failure != null) {
			throw new IOException("composition failed while streaming", this.failure);
		}
		return this.finished ? this.total : this.output.written();
	}

}
