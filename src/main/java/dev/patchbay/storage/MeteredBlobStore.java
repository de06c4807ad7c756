package dev.patchbay.storage;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * Counts a blob store's I/O failures by operation, as
 * {@code patchbay_blob_store_errors_total}: a full disk, an unreachable bucket or a
 * corrupt download shows up on a dashboard before users report it. Missing blobs and
 * oversized uploads are the caller's problem and are not counted.
 */
class MeteredBlobStore implements BlobStore {

	private final BlobStore store;

	private final MeterRegistry meters;

	MeteredBlobStore(BlobStore store, MeterRegistry meters) {
		this.store = store;
		this.meters = meters;
	}

	@Override
	public BlobOutput create() throws IOException {
		return counted("create", this.store::create);
	}

	@Override
	public StagedBlob stage(Path file, String digest) throws IOException {
		return counted("stage", () -> this.store.stage(file, digest));
	}

	@Override
	public boolean commit(StagedBlob staged) throws IOException {
		return counted("commit", () -> this.store.commit(staged));
	}

	@Override
	public boolean exists(String digest) {
		return uncheckedCounted("exists", () -> this.store.exists(digest));
	}

	@Override
	public Path localPath(String digest) {
		return uncheckedCounted("read", () -> this.store.localPath(digest));
	}

	@Override
	public Pin pin(String digest) {
		return uncheckedCounted("read", () -> this.store.pin(digest));
	}

	@Override
	public void delete(String digest) throws IOException {
		counted("delete", () -> {
			this.store.delete(digest);
			return null;
		});
	}

	@Override
	public void close() throws IOException {
		this.store.close();
	}

	private <T> T counted(String operation, IoCall<T> call) throws IOException {
		try {
			return call.run();
		}
		catch (IOException | UncheckedIOException ex) {
			error(operation);
			throw ex;
		}
	}

	private <T> T uncheckedCounted(String operation, IoCall<T> call) {
		try {
			return counted(operation, call);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	private void error(String operation) {
		Counter.builder("patchbay.blob.store.errors")
			.description("Blob store operations that failed with an I/O error")
			.tag("operation", operation)
			.register(this.meters)
			.increment();
	}

	@FunctionalInterface
	private interface IoCall<T> {

		T run() throws IOException;

	}

}
