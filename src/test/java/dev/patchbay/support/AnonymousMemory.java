package dev.patchbay.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Samples this process's anonymous resident memory (RssAnon: heap and native allocations,
 * not page-cache pages of mapped files) on a background thread and keeps the peak.
 */
public final class AnonymousMemory implements AutoCloseable {

	private final AtomicLong peak = new AtomicLong();

	// Every 5 ms: a peak lasts only as long as the largest buffer lives.
	private final ScheduledExecutorService sampler = Executors.newSingleThreadScheduledExecutor((task) -> {
		Thread thread = new Thread(task, "rss-sampler");
		thread.setDaemon(true);
		return thread;
	});

	private AnonymousMemory() {
		this.sampler.scheduleAtFixedRate(() -> this.peak.accumulateAndGet(current(), Math::max), 0, 5,
				TimeUnit.MILLISECONDS);
	}

	public static AnonymousMemory sample() {
		return new AnonymousMemory();
	}

	/** The current RssAnon in bytes. */
	public static long current() {
		try {
			for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
				if (line.startsWith("RssAnon:")) {
					return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
				}
			}
		}
		catch (IOException ex) {
			throw new IllegalStateException("cannot read /proc/self/status", ex);
		}
		throw new IllegalStateException("no RssAnon in /proc/self/status");
	}

	public long peak() {
		return Math.max(this.peak.get(), current());
	}

	@Override
	public void close() throws InterruptedException {
		this.sampler.shutdownNow();
		if (!this.sampler.awaitTermination(10, TimeUnit.SECONDS)) {
			throw new IllegalStateException("the memory sampler did not stop");
		}
	}

}
