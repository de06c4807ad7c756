package dev.patchbay.composition;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.beans.factory.config.BeanPostProcessor;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.shared.Sha256;
import dev.patchbay.storage.BlobOutput;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.StagedBlob;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The result cache in the running service, with a cache far smaller than one result (so
 * that every result not in use is evicted at once) and a blob store whose commits can be
 * held back, to make persisting a result as slow as a test needs.
 */
@IntegrationTest
@TestPropertySource(properties = "patchbay.composition.cache-size=1KB")
@Import(ResultCacheIntegrationTests.HeldCommits.class)
class ResultCacheIntegrationTests {

	private static final Duration TIMEOUT = Duration.ofSeconds(30);

	@Autowired
	ApiClient api;

	@Autowired
	BlobStore blobs;

	@Autowired
	ResultCache cache;

	@Autowired
	Compositions compositions;

	@Autowired
	MeterRegistry meters;

	@Test
	void theFirstDownloadOfAMaterializedCompositionCompletesBeforeTheResultIsStored() {
		String base = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "slow-base")).file("weights", Fixtures.path("lora_llama/base.safetensors")));
		String patch = this.api.uploadLora("slow-lora", "lora_llama/adapter");
		HeldBlobStore store = (HeldBlobStore) this.blobs;
		String id;
		byte[] streamed;
		String digest;
		store.hold();
		try {
			id = this.api.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch, "weight", 1.0)),
					"materialize", true));
			streamed = this.api.get("/api/v1/compositions/" + id + "/weights").body();
			digest = Sha256.hex(streamed);
			assertThat(Fixtures.floats(streamed).keySet())
				.isEqualTo(Fixtures.floats(Fixtures.path("lora_llama/expected_merged.safetensors")).keySet());
			awaitUntil("persisting began, after the download", () -> store.waiting() == 1);
			JsonNode during = this.api.get("/api/v1/compositions/" + id).json();
			assertThat(during.get("status").asString()).isEqualTo("running");
			assertThat(during.get("resultModelId").isNull()).as(during.toString()).isTrue();
			assertThat(this.blobs.exists(digest)).as("stored before the download ended").isFalse();
		}
		finally {
			store.release();
		}
		JsonNode done = this.api.awaitReady(id, TIMEOUT);
		assertThat(this.blobs.exists(digest)).isTrue();
		String model = done.get("resultModelId").asString();
		assertThat(this.api.get("/api/v1/models/" + model + "/weights").body()).isEqualTo(streamed);
	}

	@Test
	void aResultInUseIsNotEvictedAndOneEvictedIsRecomputedToIdenticalBytes() throws IOException {
		String base = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "evict-base")).file("weights", Fixtures.path("dora_llama/base.safetensors")));
		String patch = this.api.uploadLora("evict-dora", "dora_llama/adapter");
		JsonNode created = this.api
			.postJson("/api/v1/compositions", Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch))))
			.json();
		String id = created.get("id").asString();
		String key = created.get("recipeDigest").asString();
		byte[] first = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		this.api.awaitReady(id, TIMEOUT);
		awaitUntil("evicted once nothing uses it", () -> !this.cache.contains(key));

		long refills = refills();
		try (Compositions.Result pinned = this.compositions.awaitResult(java.util.UUID.fromString(id), TIMEOUT)) {
			long before = refills;
			// Counted just after the bytes are released to readers.
			awaitUntil("recomputed into the cache", () -> refills() == before + 1);
			String other = this.api
				.compose(Map.of("baseModelId", base, "terms", List.of(Map.of("patchId", patch, "weight", 0.5))));
			this.api.get("/api/v1/compositions/" + other + "/weights").body();
			this.api.awaitReady(other, TIMEOUT);
			assertThat(this.cache.contains(key)).as("pinned by a reader").isTrue();
			assertThat(Files.readAllBytes(pinned.path())).isEqualTo(first);
		}
		assertThat(this.cache.contains(key)).as("evicted once released").isFalse();

		// The other composition's download may have been a refill too, if its job was
		// done (and its result evicted) before the download asked.
		long before = refills();
		byte[] again = this.api.get("/api/v1/compositions/" + id + "/weights").body();
		assertThat(again).isEqualTo(first);
		awaitUntil("recomputed into the cache", () -> refills() == before + 1);
		assertThat(refills()).isEqualTo(before + 1);
	}

	private long refills() {
		Timer timer = this.meters.find("patchbay.composition.duration").tag("outcome", "refill").timer();
		return (timer != null) ? timer.count() : 0;
	}

	private static void awaitUntil(String what, Callable<Boolean> condition) {
		await(what).atMost(TIMEOUT).pollInterval(Duration.ofMillis(20)).until(condition);
	}

	/** Wraps the service's blob store so that a test can hold its commits back. */
	@TestConfiguration(proxyBeanMethods = false)
	static class HeldCommits {

		@Bean
		static BeanPostProcessor holdBlobCommits() {
			return new BeanPostProcessor() {

				@Override
				public Object postProcessAfterInitialization(Object bean, String name) {
					return (bean instanceof BlobStore store) ? new HeldBlobStore(store) : bean;
				}

			};
		}

	}

	/** The real store, whose commits wait while held. */
	static final class HeldBlobStore implements BlobStore {

		private final BlobStore store;

		private final AtomicInteger waiting = new AtomicInteger();

		private volatile CountDownLatch held;

		HeldBlobStore(BlobStore store) {
			this.store = store;
		}

		void hold() {
			this.held = new CountDownLatch(1);
		}

		void release() {
			CountDownLatch latch = this.held;
			this.held = null;
			if (latch != null) {
				latch.countDown();
			}
		}

		int waiting() {
			return this.waiting.get();
		}

		@Override
		public boolean commit(StagedBlob staged) throws IOException {
			CountDownLatch latch = this.held;
			if (latch != null) {
				this.waiting.incrementAndGet();
				try {
					latch.await();
				}
				catch (InterruptedException ex) {
					Thread.currentThread().interrupt();
					throw new java.io.InterruptedIOException("interrupted while held");
				}
				finally {
					this.waiting.decrementAndGet();
				}
			}
			return this.store.commit(staged);
		}

		@Override
		public BlobOutput create() throws IOException {
			return this.store.create();
		}

		@Override
		public StagedBlob stage(InputStream content, long maxBytes) throws IOException {
			return this.store.stage(content, maxBytes);
		}

		@Override
		public StagedBlob stage(Path file, String digest) throws IOException {
			return this.store.stage(file, digest);
		}

		@Override
		public boolean exists(String digest) {
			return this.store.exists(digest);
		}

		@Override
		public Path localPath(String digest) {
			return this.store.localPath(digest);
		}

		@Override
		public void delete(String digest) throws IOException {
			this.store.delete(digest);
		}

		@Override
		public void close() throws IOException {
			this.store.close();
		}

	}

}
