package dev.patchbay.support;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Samples this process's anonymous resident memory (RssAnon: heap and native allocations,
 * not page-cache pages of mapped files) on a background thread and keeps the peak.
 */
public final class AnonymousMemory implements AutoCloseable {

	private final AtomicLong peak = new AtomicLong();

	private final Thread sampler;

	private volatile boolean running = true;

	private AnonymousMemory() {
		this.sampler = new Thread(() -> {
			while (this.running) {
				this.peak.accumulateAndGet(current(), Math::max);
				try {
					Thread.sleep(5);
				}
				catch (InterruptedException ex) {
					return;
				}
			}
		}, "rss-sampler");
		this.sampler.setDaemon(true);
		this.sampler.start();
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
		this.running = false;
		this.sampler.join();
	}

}
