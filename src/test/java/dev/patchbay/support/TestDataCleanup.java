package dev.patchbay.support;

import java.io.IOException;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.util.FileSystemUtils;

import dev.patchbay.storage.StorageProperties;

/**
 * Deletes a test context's blob store when the context closes, so that repeated runs do
 * not fill the disk.
 */
@TestConfiguration(proxyBeanMethods = false)
class TestDataCleanup implements DisposableBean {

	private final StorageProperties storage;

	TestDataCleanup(StorageProperties storage) {
		this.storage = storage;
	}

	@Override
	public void destroy() throws IOException {
		FileSystemUtils.deleteRecursively(this.storage.root());
	}

}
