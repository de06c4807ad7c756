package dev.patchbay.support;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;

import dev.patchbay.engine.EngineProperties;
import dev.patchbay.engine.TensorEngine;

/**
 * The real engine, whose pool can hold back the submission of chunks: a composition stops
 * where a test wants it, running, for as long as the test needs, without timing.
 */
public final class GatedEngine extends TensorEngine {

	private static final Duration TIMEOUT = Duration.ofSeconds(30);

	private final Gate gate;

	GatedEngine(EngineProperties properties) {
		super(properties);
		this.gate = new Gate(super.pool());
	}

	@Override
	public ExecutorService pool() {
		return this.gate;
	}

	public Gate gate() {
		return this.gate;
	}

	/** Puts the gated engine in place of the real one. */
	@TestConfiguration(proxyBeanMethods = false)
	public static class Configuration {

		@Bean
		@Primary
		GatedEngine gatedEngine(EngineProperties properties) {
			return new GatedEngine(properties);
		}

	}

	/**
	 * Lets a number of tasks through, then makes the submitter wait until opened.
	 */
	public static final class Gate extends AbstractExecutorService {

		private final ExecutorService pool;

		private final AtomicInteger passes = new AtomicInteger(Integer.MAX_VALUE);

		private volatile CountDownLatch opened = new CountDownLatch(0);

		private volatile CountDownLatch blocked = new CountDownLatch(1);

		Gate(ExecutorService pool) {
			this.pool = pool;
		}

		/** Lets {@code tasks} more chunks through, then holds the next one. */
		public void closeAfter(int tasks) {
			this.blocked = new CountDownLatch(1);
			this.opened = new CountDownLatch(1);
			this.passes.set(tasks);
		}

		/** Whether a submitter reached the closed gate within the timeout. */
		public boolean awaitBlocked() {
			try {
				return this.blocked.await(TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				return false;
			}
		}

		public void open() {
			this.passes.set(Integer.MAX_VALUE);
			this.opened.countDown();
		}

		@Override
		public void execute(Runnable task) {
			if (this.passes.getAndDecrement() <= 0) {
				this.blocked.countDown();
				try {
					this.opened.await();
				}
				catch (InterruptedException ex) {
					Thread.currentThread().interrupt();
				}
			}
			this.pool.execute(task);
		}

		@Override
		public void shutdown() {
			this.pool.shutdown();
		}

		@Override
		public List<Runnable> shutdownNow() {
			return this.pool.shutdownNow();
		}

		@Override
		public boolean isShutdown() {
			return this.pool.isShutdown();
		}

		@Override
		public boolean isTerminated() {
			return this.pool.isTerminated();
		}

		@Override
		public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
			return this.pool.awaitTermination(timeout, unit);
		}

	}

}
