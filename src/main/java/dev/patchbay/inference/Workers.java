package dev.patchbay.inference;

import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * The background workers of evaluations and sweeps: one daemon thread each, behind a
 * bounded queue, so that work beyond it is refused (a {@code RejectedExecutionException}
 * the caller turns into a 503) rather than held in memory without end.
 */
final class Workers {

	private Workers() {
	}

	static ExecutorService single(String threadName, int queued) {
		return new ThreadPoolExecutor(1, 1, 0, TimeUnit.MILLISECONDS, new ArrayBlockingQueue<>(queued), (task) -> {
			Thread thread = new Thread(task, threadName);
			thread.setDaemon(true);
			return thread;
		});
	}

}
