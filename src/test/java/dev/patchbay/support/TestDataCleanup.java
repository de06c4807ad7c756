package dev.patchbay.support;

import java.io.IOException;

import org.springframework.beans.factory.DisposableBean;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.util.FileSystemUtils;

import dev.patchbay.composition.CompositionProperties;
import dev.patchbay.storage.StorageProperties;

/**
 * Deletes a test context's blob store and result cache when the context closes, so that
 * repeated runs do not fill the disk.
 */
@TestConfiguration(proxyBeanMethods = false)
class TestDataCleanup implements DisposableBean {

	private final StorageProperties storage;

	private final CompositionProperties compositions;

	TestDataCleanup(StorageProperties storage, CompositionProperties compositions) {
		this.storage = storage;
		this.compositions = compositions;
	}

	@Override
	public void destroy() throws IOException {
		FileSystemUtils.deleteRecursively(this.storage.root());
		FileSystemUtils.deleteRecursively(this.compositions.cacheDirectory());
	}

}
