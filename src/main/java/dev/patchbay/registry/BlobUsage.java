package dev.patchbay.registry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Collection;
import java.util.List;

import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.storage.BlobStore;

/**
 * Decides when a blob may go: only when no artifact file and no other module still uses
 * it, since identical content is stored once and shared. Deciding and committing are
 * serialized per digest by a PostgreSQL advisory lock, across every instance: a delete
 * that finds a blob unused and an upload of the same bytes that finds it already stored
 * cannot interleave, so an upload acknowledged with 201 never loses its bytes.
 */
@Component
class BlobUsage {

	private final ArtifactRepository artifacts;

	private final BlobStore blobs;

	private final List<ArtifactReferences> references;

	private final JdbcClient jdbc;

	private final TransactionTemplate transactions;

	BlobUsage(ArtifactRepository artifacts, BlobStore blobs, List<ArtifactReferences> references, JdbcClient jdbc,
			TransactionTemplate transactions) {
		this.artifacts = artifacts;
		this.blobs = blobs;
		this.references = references;
		this.jdbc = jdbc;
		this.transactions = transactions;
	}

	/**
	 * Locks the digests until the current transaction ends. Whoever commits a blob and
	 * records a use of it holds the lock from the commit until the use is visible.
	 */
	void lock(Collection<String> digests) {
		// One order for everyone, so that two uploads sharing blobs cannot deadlock.
		digests.stream()
			.distinct()
			.sorted()
			.forEach((digest) -> this.jdbc.sql("select pg_advisory_xact_lock(:key)")
				.param("key", key(digest))
				.query()
				.listOfRows());
	}

	/** Deletes the blob unless an artifact or another module uses it. */
	void deleteIfUnused(String digest) throws IOException {
		try {
			this.transactions.executeWithoutResult((status) -> {
				lock(List.of(digest));
				boolean used = this.artifacts.isBlobReferenced(digest)
						|| this.references.stream().anyMatch((module) -> module.holdsBlob(digest));
				if (!used) {
					try {
						this.blobs.delete(digest);
					}
					catch (IOException ex) {
						throw new UncheckedIOException(ex);
					}
				}
			});
		}
		catch (UncheckedIOException ex) {
			throw ex.getCause();
		}
	}

	/**
	 * The first 64 bits of the digest: collisions only make two digests wait on each
	 * other.
	 */
	private static long key(String digest) {
		return Long.parseUnsignedLong(digest.substring(0, 16), 16);
	}

}
