package dev.patchbay.storage;

import java.net.URI;
import java.nio.file.Path;

import jakarta.validation.Valid;
import jakarta.validation.constraints.AssertTrue;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Blob storage settings.
 *
 * @param type Where blobs live: {@code filesystem} (under root) or {@code s3}.
 * @param root Directory that holds the filesystem blob store, or with S3 the local
 * staging area and the cache of downloaded blobs.
 * @param maxUploadSize Maximum size of a single uploaded file.
 * @param s3 S3-compatible object storage, used when type is s3.
 */
@Validated
@ConfigurationProperties("patchbay.storage")
public record StorageProperties(@NotNull @DefaultValue("filesystem") Type type, @NotNull Path root,
		@NotNull DataSize maxUploadSize, @Valid S3 s3) {

	/** The directory under which each process stages what it is writing. */
	Path stagingDirectory() {
		return this.root.resolve("tmp").toAbsolutePath();
	}

	@AssertTrue(message = "patchbay.storage.s3.bucket is required when patchbay.storage.type is s3")
	boolean isS3Configured() {
		return this.type != Type.S3 || (this.s3 != null && this.s3.bucket() != null && !this.s3.bucket().isBlank());
	}

	public enum Type {

		FILESYSTEM, S3

	}

	/**
	 * S3 settings.
	 *
	 * @param bucket Bucket that holds the blobs; it must exist.
	 * @param prefix Key prefix under which blobs are stored.
	 * @param endpoint Endpoint of an S3-compatible server; unset means AWS.
	 * @param region Region of the bucket.
	 * @param pathStyleAccess Whether to address the bucket in the path rather than the
	 * host name, as most S3-compatible servers need.
	 * @param accessKeyId Access key id; unset means the AWS default credentials chain.
	 * @param secretAccessKey Secret access key that goes with the access key id.
	 * @param partSize Size of each part of a multipart upload; blobs larger than this go
	 * up in parts.
	 * @param cacheSize Maximum size of the local cache of downloaded blobs.
	 */
	public record S3(String bucket, @NotNull @DefaultValue("blobs/") String prefix, URI endpoint,
			@NotBlank @DefaultValue("us-east-1") String region, @DefaultValue("false") boolean pathStyleAccess,
			String accessKeyId, String secretAccessKey, @NotNull @DefaultValue("64MB") DataSize partSize,
			@NotNull @DefaultValue("50GB") DataSize cacheSize) {

		@AssertTrue(message = "patchbay.storage.s3.part-size must be at least 5MB, the S3 minimum")
		boolean isPartSizeAllowed() {
			return this.partSize == null || this.partSize.toBytes() >= 5L << 20;
		}

	}

}
