package dev.patchbay.storage;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.model.CompletedPart;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.NoSuchKeyException;

/**
 * Blobs in an S3 bucket under {@code prefix + digest}, with a local cache for
 * memory-mapped reads. An object becomes visible only once complete (a single PUT, or a
 * multipart upload's completion), so like the filesystem store a blob is either absent or
 * whole. Downloads are re-hashed before they enter the cache: a blob whose bytes do not
 * match its digest is refused, never served.
 */
class S3BlobStore implements BlobStore {

	private static final Logger logger = LoggerFactory.getLogger(S3BlobStore.class);

	private static final String CONTENT_TYPE = "application/octet-stream";

	private final S3Client s3;

	private final StorageProperties.S3 settings;

	/**
	 * Staging area and cache of blobs held locally, laid out like the filesystem store.
	 */
	private final FileSystemBlobStore local;

	/** Cached blobs by digest in least-recently-used order, with their sizes. */
	private final LinkedHashMap<String, Long> cached = new LinkedHashMap<>(16, 0.75f, true);

	private long cachedBytes;

	/** Readers holding each cached blob in place, by digest; eviction skips these. */
	private final Map<String, Integer> pins = new HashMap<>();

	/** One download at a time per digest; concurrent readers wait for it. */
	private final Map<String, Object> downloads = new ConcurrentHashMap<>();

	S3BlobStore(S3Client s3, StorageProperties.S3 settings, FileSystemBlobStore local) throws IOException {
		this.s3 = s3;
		this.settings = settings;
		this.local = local;
		local.list().forEach(this::remember);
	}

	static S3Client client(StorageProperties.S3 settings) {
		S3ClientBuilder builder = S3Client.builder()
			.region(Region.of(settings.region()))
			.forcePathStyle(settings.pathStyleAccess());
		if (settings.endpoint() != null) {
			builder.endpointOverride(settings.endpoint());
		}
		builder.credentialsProvider((settings.accessKeyId() != null)
				? StaticCredentialsProvider
					.create(AwsBasicCredentials.create(settings.accessKeyId(), settings.secretAccessKey()))
				: DefaultCredentialsProvider.builder().build());
		return builder.build();
	}

	@Override
	public BlobOutput create() throws IOException {
		return this.local.create();
	}

	@Override
	public StagedBlob stage(Path file, String digest) throws IOException {
		return this.local.stage(file, digest);
	}

	@Override
	public boolean commit(StagedBlob staged) throws IOException {
		boolean uploaded = false;
		if (!exists(staged.digest())) {
			upload(staged);
			uploaded = true;
		}
		this.local.commit(staged);
		remember(staged.digest(), staged.size());
		return uploaded;
	}

	private void upload(StagedBlob staged) throws IOException {
		String key = key(staged.digest());
		Map<String, String> metadata = Map.of("sha256", staged.digest());
		long partSize = this.settings.partSize().toBytes();
		try {
			if (staged.size() <= partSize) {
				this.s3.putObject((put) -> put.bucket(bucket()).key(key).metadata(metadata).contentType(CONTENT_TYPE),
						RequestBody.fromFile(staged.path()));
				return;
			}
			String uploadId = this.s3
				.createMultipartUpload(
						(create) -> create.bucket(bucket()).key(key).metadata(metadata).contentType(CONTENT_TYPE))
				.uploadId();
			try {
				List<CompletedPart> parts = new ArrayList<>();
				for (long offset = 0; offset < staged.size(); offset += partSize) {
					int number = parts.size() + 1;
					long start = offset;
					long length = Math.min(partSize, staged.size() - offset);
					String etag = this.s3
						.uploadPart(
								(part) -> part.bucket(bucket())
									.key(key)
									.uploadId(uploadId)
									.partNumber(number)
									.contentLength(length),
								RequestBody.fromContentProvider(() -> region(staged.path(), start, length), length,
										CONTENT_TYPE))
						.eTag();
					parts.add(CompletedPart.builder().partNumber(number).eTag(etag).build());
				}
				this.s3.completeMultipartUpload((complete) -> complete.bucket(bucket())
					.key(key)
					.uploadId(uploadId)
					.multipartUpload((upload) -> upload.parts(parts)));
			}
			catch (SdkException | UncheckedIOException ex) {
				// Parts of an unfinished upload are invisible but billed: drop them.
				this.s3.abortMultipartUpload((abort) -> abort.bucket(bucket()).key(key).uploadId(uploadId));
				throw ex;
			}
		}
		catch (SdkException ex) {
			throw new IOException("uploading blob " + staged.digest() + " to S3 failed: " + ex.getMessage(), ex);
		}
	}

	@Override
	public boolean exists(String digest) {
		try {
			this.s3.headObject((head) -> head.bucket(bucket()).key(key(digest)));
			return true;
		}
		catch (NoSuchKeyException ex) {
			return false;
		}
		catch (SdkException ex) {
			throw new UncheckedIOException(
					new IOException("checking blob " + digest + " in S3 failed: " + ex.getMessage(), ex));
		}
	}

	@Override
	public Path localPath(String digest) {
		return fetch(digest, false);
	}

	/**
	 * Pinned before the download lock is let go, so no eviction can come between the file
	 * arriving and the reader holding it.
	 */
	@Override
	public Pin pin(String digest) {
		Path path = fetch(digest, true);
		return new Pin(path, () -> unpin(digest));
	}

	private Path fetch(String digest, boolean pin) {
		synchronized (this.downloads.computeIfAbsent(digest, (key) -> new Object())) {
			while (true) {
				synchronized (this) {
					if (this.local.exists(digest)) {
						touch(digest);
						if (pin) {
							this.pins.merge(digest, 1, Integer::sum);
						}
						return this.local.localPath(digest);
					}
				}
				// Evicted again before it could be pinned (a cache smaller than the
				// blobs in use): fetch it once more.
				try {
					download(digest);
				}
				catch (IOException ex) {
					throw new UncheckedIOException(ex);
				}
			}
		}
	}

	private synchronized void unpin(String digest) {
		this.pins.computeIfPresent(digest, (key, count) -> (count > 1) ? count - 1 : null);
		evictBeyondBudget(null);
	}

	private void download(String digest) throws IOException {
		try (ResponseInputStream<GetObjectResponse> in = this.s3
			.getObject((get) -> get.bucket(bucket()).key(key(digest))); BlobOutput out = this.local.create()) {
			in.transferTo(out);
			StagedBlob staged = out.finish();
			if (!staged.digest().equals(digest)) {
				staged.close();
				throw new IOException("blob " + digest + " in S3 is corrupt: its content hashes to " + staged.digest());
			}
			this.local.commit(staged);
			remember(digest, staged.size());
		}
		catch (NoSuchKeyException ex) {
			throw BlobNotFoundException.forDigest(digest);
		}
		catch (SdkException ex) {
			throw new IOException("downloading blob " + digest + " from S3 failed: " + ex.getMessage(), ex);
		}
	}

	@Override
	public void delete(String digest) throws IOException {
		try {
			this.s3.deleteObject((delete) -> delete.bucket(bucket()).key(key(digest)));
		}
		catch (SdkException ex) {
			throw new IOException("deleting blob " + digest + " from S3 failed: " + ex.getMessage(), ex);
		}
		forget(digest);
	}

	@Override
	public void close() {
		this.s3.close();
	}

	private synchronized void touch(String digest) {
		this.cached.get(digest);
	}

	/**
	 * Adds a blob to the cache index and evicts the least recently used ones beyond the
	 * cache size. An evicted file that a reader still has mapped stays readable: the
	 * mapping holds the data until it is released.
	 */
	private synchronized void remember(String digest, long size) {
		Long previous = this.cached.put(digest, size);
		this.cachedBytes += size - ((previous != null) ? previous : 0);
		evictBeyondBudget(digest);
	}

	/**
	 * Evicts the least recently used blobs beyond the cache size, except the one just
	 * added and those pinned by a reader: the cache may stay over its size until they are
	 * let go.
	 */
	private synchronized void evictBeyondBudget(String added) {
		Iterator<Map.Entry<String, Long>> eldest = this.cached.entrySet().iterator();
		while (this.cachedBytes > this.settings.cacheSize().toBytes() && eldest.hasNext()) {
			Map.Entry<String, Long> entry = eldest.next();
			if (entry.getKey().equals(added) || this.pins.containsKey(entry.getKey())) {
				continue;
			}
			try {
				this.local.delete(entry.getKey());
				this.cachedBytes -= entry.getValue();
				eldest.remove();
			}
			catch (IOException ex) {
				logger.warn("Could not evict blob {} from the local cache", entry.getKey(), ex);
			}
		}
	}

	private synchronized void forget(String digest) throws IOException {
		Long size = this.cached.remove(digest);
		this.cachedBytes -= (size != null) ? size : 0;
		this.local.delete(digest);
	}

	private String bucket() {
		return this.settings.bucket();
	}

	private String key(String digest) {
		return this.settings.prefix() + digest;
	}

	/** The bytes of one part: a window of the staged file, read as it is sent. */
	private static InputStream region(Path file, long offset, long length) {
		try {
			FileChannel channel = FileChannel.open(file, StandardOpenOption.READ).position(offset);
			return new FilterInputStream(Channels.newInputStream(channel)) {

				private long remaining = length;

				@Override
				public int read() throws IOException {
					if (this.remaining <= 0) {
						return -1;
					}
					int b = super.read();
					this.remaining -= (b >= 0) ? 1 : 0;
					return b;
				}

				@Override
				public int read(byte[] buffer, int off, int len) throws IOException {
					if (this.remaining <= 0) {
						return -1;
					}
					int n = super.read(buffer, off, (int) Math.min(len, this.remaining));
					this.remaining -= Math.max(n, 0);
					return n;
				}

			};
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

}
