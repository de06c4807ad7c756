package dev.patchbay.storage;

import java.io.IOException;

import io.micrometer.core.instrument.MeterRegistry;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The blob store that {@code patchbay.storage.type} names, with its errors counted.
 */
@Configuration(proxyBeanMethods = false)
class StorageConfiguration {

	@Bean(destroyMethod = "close")
	StagingArea stagingArea(StorageProperties properties) throws IOException {
		return StagingArea.open(properties.stagingDirectory());
	}

	@Bean
	BlobStore blobStore(StorageProperties properties, MeterRegistry meters, StagingArea staging) throws IOException {
		FileSystemBlobStore local = new FileSystemBlobStore(properties.root(), staging.directory());
		BlobStore store = switch (properties.type()) {
			case FILESYSTEM -> local;
			case S3 -> new S3BlobStore(S3BlobStore.client(properties.s3()), properties.s3(), local);
		};
		return new MeteredBlobStore(store, meters);
	}

}
