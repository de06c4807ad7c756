package dev.patchbay.api;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import jakarta.servlet.http.HttpServletResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.http.MediaType;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.SseEmitter;

import dev.patchbay.composition.CompositionStatus;
import dev.patchbay.composition.CompositionSummary;
import dev.patchbay.composition.Compositions;
import dev.patchbay.events.Event;
import dev.patchbay.events.Events;
import dev.patchbay.events.EventsProperties;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * A composition's server-sent event stream: its status and progress as they change, and
 * the events published for it (the same documents webhooks receive), until it is ready or
 * failed. Each stream reads the composition's row and its events from the database, so it
 * follows a composition computed by any replica. No request thread is held: one scheduler
 * ticks every open stream, and pooled threads run its polls, so that a client that stops
 * reading stalls only its own stream.
 */
@RestController
class CompositionEventController implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(CompositionEventController.class);

	private final Compositions compositions;

	private final Events events;

	private final EventsProperties properties;

	private final JsonMapper json;

	// One daemon thread ticks every stream: a tick only hands a poll to the pool, so it
	// never blocks, and daemon threads do not hold the JVM up at shutdown.
	private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor((task) -> {
		Thread thread = new Thread(task, "composition-events");
		thread.setDaemon(true);
		return thread;
	});

	/**
	 * Runs the polls, each of which may block on a client that stopped reading (until
	 * Tomcat's write timeout): such a client holds one of these threads, never the
	 * scheduler or the other streams.
	 */
	private final ExecutorService pollers = Executors.newCachedThreadPool((task) -> {
		Thread thread = new Thread(task, "composition-events-poll");
		thread.setDaemon(true);
		return thread;
	});

	CompositionEventController(Compositions compositions, Events events, EventsProperties properties, JsonMapper json) {
		this.compositions = compositions;
		this.events = events;
		this.properties = properties;
		this.json = json;
	}

	/**
	 * Opens a stream. A reconnecting client sends {@code Last-Event-ID}, the sequence
	 * number of the last event it received, and gets only the later ones; status and
	 * progress are sent again, as a snapshot, on every connection.
	 */
	@GetMapping(path = "/api/v1/compositions/{id}/events", produces = MediaType.TEXT_EVENT_STREAM_VALUE)
	SseEmitter stream(@PathVariable UUID id,
			@RequestHeader(name = "Last-Event-ID", required = false) String lastEventId, HttpServletResponse response) {
		long after = position(lastEventId);
		// An unknown id is a 404 before the stream starts.
		this.compositions.get(id);
		// Proxies such as nginx would otherwise buffer the stream.
		response.setHeader("X-Accel-Buffering", "no");
		response.setHeader("Cache-Control", "no-store");
		// A bounded lifetime: a stream a client forgot is closed at the timeout, and the
		// EventSource reconnects by itself if it is still listening.
		SseEmitter emitter = new SseEmitter(this.properties.streamTimeout().toMillis());
		Stream stream = new Stream(id, emitter, after);
		emitter.onCompletion(stream::stop);
		// Whichever way the emitter ends, its polling ends with it, so no tick writes to
		// a closed response.
		emitter.onError((ex) -> stream.stop());
		emitter.onTimeout(() -> {
			// The client reconnects with Last-Event-ID and goes on from there.
			stream.stop();
			emitter.complete();
		});
		stream.start();
		return emitter;
	}

	/**
	 * The sequence number a reconnecting client last saw; 0, from the start, for a new
	 * one.
	 */
	private static long position(String lastEventId) {
		if (lastEventId == null || lastEventId.isBlank()) {
			return 0;
		}
		try {
			long position = Long.parseLong(lastEventId.strip());
			if (position >= 0) {
				return position;
			}
		}
		catch (NumberFormatException ex) {
			// Reported below.
		}
		throw new InvalidInputException(ProblemKind.INVALID_PARAMETER,
				"Last-Event-ID: must be the id of an event this stream sent (a non-negative integer)",
				Map.of("field", "Last-Event-ID"));
	}

	@Override
	// Polls blocked on a slow client are interrupted; their streams end with the
	// application.
	public void close() {
		this.scheduler.shutdownNow();
		this.pollers.shutdownNow();
	}

	/**
	 * One open stream. Its polls never overlap (a tick while one runs is skipped), and
	 * each starts after the previous one ended, so its fields need no further guard; its
	 * stop may come from any thread.
	 */
	private final class Stream {

		private final UUID id;

		private final SseEmitter emitter;

		// What the client has seen: the last event's sequence number and the status and
		// progress last sent, so a poll sends only what changed.
		private long lastSeq;

		private CompositionStatus lastStatus;

		private long lastTensors = -1;

		private long lastBytes = -1;

		private long lastSentNanos = System.nanoTime();

		private volatile boolean stopped;

		/** Whether a poll is running. */
		// The guard that keeps polls from overlapping: a poll slower than the interval (a
		// client reading slowly) skips ticks instead of queueing them.
		private final AtomicBoolean polled = new AtomicBoolean();

		private volatile ScheduledFuture<?> polling;

		Stream(UUID id, SseEmitter emitter, long after) {
			this.id = id;
			this.emitter = emitter;
			this.lastSeq = after;
		}

		void start() {
			this.polling = CompositionEventController.this.scheduler.scheduleWithFixedDelay(this::tick, 0,
					CompositionEventController.this.properties.streamPollInterval().toMillis(), TimeUnit.MILLISECONDS);
		}

		private void tick() {
			if (!this.polled.compareAndSet(false, true)) {
				return;
			}
			try {
				CompositionEventController.this.pollers.execute(() -> {
					try {
						poll();
					}
					finally {
						this.polled.set(false);
					}
				});
			}
			catch (RejectedExecutionException ex) {
				// Shutting down.
				stop();
			}
		}

		// Idempotent, and callable from the emitter's callbacks on a container thread as
		// well as from a poll.
		void stop() {
			this.stopped = true;
			ScheduledFuture<?> polling = this.polling;
			if (polling != null) {
				// Not interrupting: a poll in progress finishes its write and sees
				// stopped next time.
				polling.cancel(false);
			}
		}

		private void poll() {
			if (this.stopped) {
				stop();
				return;
			}
			try {
				// The row first, then the events: an outcome's event commits with its
				// status, so a terminal status read here has its event readable below.
				CompositionSummary view = CompositionEventController.this.compositions.get(this.id);
				for (Event event : CompositionEventController.this.events.forComposition(this.id, this.lastSeq)) {
					send(SseEmitter.event()
						.id(Long.toString(event.seq()))
						.name(event.type().wireName())
						.data(event.body()));
					this.lastSeq = event.seq();
				}
				// A status change is sent as one status event that carries the progress
				// too; a progress event only when the status is unchanged, at most one
				// per poll.
				CompositionSummary.Progress progress = view.progress();
				if (view.status() != this.lastStatus) {
					send(SseEmitter.event().name("status").data(snapshot(view)));
				}
				else if (progress.tensorsDone() != this.lastTensors || progress.bytesDone() != this.lastBytes) {
					send(SseEmitter.event().name("progress").data(snapshot(view)));
				}
				this.lastStatus = view.status();
				this.lastTensors = progress.tensorsDone();
				this.lastBytes = progress.bytesDone();
				// Ready, failed or cancelled: nothing more can happen, and the terminal
				// status and its event have both been sent above.
				if (view.status() != CompositionStatus.PENDING && view.status() != CompositionStatus.RUNNING) {
					stop();
					this.emitter.complete();
					return;
				}
				// Only after a silence, so a busy stream sends no keepalives.
				long silent = System.nanoTime() - this.lastSentNanos;
				if (silent >= CompositionEventController.this.properties.streamKeepAlive().toNanos()) {
					send(SseEmitter.event().comment("keepalive"));
				}
			}
			catch (NotFoundException ex) {
				// Deleted while followed: nothing more will happen to it.
				stop();
				this.emitter.complete();
			}
			catch (IOException | IllegalStateException ex) {
				// The client went away, or the stream was completed meanwhile.
				stop();
			}
			catch (RuntimeException ex) {
				logger.warn("Event stream of composition {} failed", this.id, ex);
				stop();
				this.emitter.completeWithError(ex);
			}
		}

		private void send(SseEmitter.SseEventBuilder event) throws IOException {
			this.emitter.send(event);
			this.lastSentNanos = System.nanoTime();
		}

		/**
		 * The status or progress event's data. {@code fraction} is by bytes, since
		 * tensors differ widely in size; before the size is known it is 0, or 1 for a
		 * ready composition with nothing to write.
		 */
		private String snapshot(CompositionSummary view) {
			CompositionSummary.Progress progress = view.progress();
			Map<String, Object> data = new LinkedHashMap<>();
			data.put("compositionId", view.id());
			data.put("status", view.status().wireName());
			data.put("progress", CompositionView.Progress.of(progress));
			double fraction = (progress.bytesTotal() > 0) ? (double) progress.bytesDone() / progress.bytesTotal()
					: ((view.status() == CompositionStatus.READY) ? 1.0 : 0.0);
			data.put("fraction", fraction);
			return CompositionEventController.this.json.writeValueAsString(data);
		}

	}

}
