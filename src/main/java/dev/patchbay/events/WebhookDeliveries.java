package dev.patchbay.events;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import javax.crypto.Mac;
import javax.crypto.spec.SecretKeySpec;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Component;

/**
 * Sends pending webhook deliveries from a bounded pool, off every request's path. The
 * delivery table is the queue: an instance claims due rows with {@code SKIP LOCKED},
 * moving them past the attempt's timeout, so instances never send the same attempt twice
 * and a delivery whose instance died mid-attempt is taken up again once that time has
 * passed. A failed attempt is retried with exponential backoff until the configured
 * number of attempts; delivery is at least once, and receivers tell repeats apart by the
 * event id.
 */
@Component
class WebhookDeliveries implements AutoCloseable {

	/** The header a receiver checks the body against. */
	static final String SIGNATURE_HEADER = "X-Patchbay-Signature";

	private static final Logger logger = LoggerFactory.getLogger(WebhookDeliveries.class);

	private static final int MAX_ERROR_LENGTH = 500;

	/** Extra time on a claim beyond the attempt's timeout, for recording its outcome. */
	private static final Duration LEASE_MARGIN = Duration.ofSeconds(10);

	private static final Duration PURGE_INTERVAL = Duration.ofHours(1);

	private final JdbcClient jdbc;

	private final EventsProperties properties;

	private final HttpClient http;

	private final ExecutorService senders;

	private final ScheduledExecutorService scheduler;

	private final AtomicInteger inFlight = new AtomicInteger();

	private final AtomicBoolean wakeQueued = new AtomicBoolean();

	private volatile boolean started;

	private volatile boolean closing;

	WebhookDeliveries(JdbcClient jdbc, EventsProperties properties) {
		this.jdbc = jdbc;
		this.properties = properties;
		this.http = HttpClient.newBuilder()
			.version(HttpClient.Version.HTTP_1_1)
			.connectTimeout(properties.timeout())
			.followRedirects(HttpClient.Redirect.NEVER)
			.build();
		this.senders = Executors.newFixedThreadPool(properties.concurrency(), (task) -> {
			Thread thread = new Thread(task, "webhook-delivery");
			thread.setDaemon(true);
			return thread;
		});
		this.scheduler = Executors.newSingleThreadScheduledExecutor((task) -> {
			Thread thread = new Thread(task, "webhook-queue");
			thread.setDaemon(true);
			return thread;
		});
	}

	@EventListener(ApplicationReadyEvent.class)
	void start() {
		this.started = true;
		this.scheduler.scheduleWithFixedDelay(this::deliverDue, 0, this.properties.pollInterval().toMillis(),
				TimeUnit.MILLISECONDS);
		this.scheduler.scheduleWithFixedDelay(this::purge, PURGE_INTERVAL.toMillis(), PURGE_INTERVAL.toMillis(),
				TimeUnit.MILLISECONDS);
	}

	/** Looks for due deliveries now rather than at the next poll. */
	void wake() {
		if (this.started && !this.closing && this.wakeQueued.compareAndSet(false, true)) {
			try {
				this.scheduler.execute(() -> {
					this.wakeQueued.set(false);
					deliverDue();
				});
			}
			catch (RuntimeException ex) {
				// Shutting down; the next instance polls.
				this.wakeQueued.set(false);
			}
		}
	}

	private void deliverDue() {
		try {
			int free;
			while (!this.closing && (free = this.properties.concurrency() - this.inFlight.get()) > 0) {
				List<Claimed> claimed = claim(free);
				if (claimed.isEmpty()) {
					return;
				}
				for (Claimed delivery : claimed) {
					this.inFlight.incrementAndGet();
					this.senders.execute(() -> {
						try {
							attempt(delivery);
						}
						finally {
							this.inFlight.decrementAndGet();
						}
						// A freed sender takes the next due delivery at once.
						wake();
					});
				}
			}
		}
		catch (RuntimeException ex) {
			if (!this.closing) {
				logger.warn("Could not poll the webhook deliveries", ex);
			}
		}
	}

	/**
	 * Claims up to {@code limit} due deliveries, counting the attempt now: an attempt cut
	 * short by a crash counts too, so a receiver that kills its caller cannot be retried
	 * forever.
	 */
	private List<Claimed> claim(int limit) {
		double leaseSeconds = this.properties.timeout().plus(LEASE_MARGIN).toMillis() / 1000.0;
		return this.jdbc.sql("""
				update webhook_delivery d
				set attempts = d.attempts + 1, next_attempt_at = now() + make_interval(secs => :leaseSeconds)
				from webhook w, event_log e
				where d.id in (select id from webhook_delivery where status = 'PENDING' and next_attempt_at <= now()
				               order by next_attempt_at limit :limit for update skip locked)
				  and w.id = d.webhook_id and e.id = d.event_id
				returning d.id, d.attempts, w.url, w.secret, e.id as event_id, e.type, e.body""")
			.param("leaseSeconds", leaseSeconds)
			.param("limit", limit)
			.query((row, n) -> new Claimed(row.getObject("id", UUID.class), row.getInt("attempts"),
					row.getString("url"), row.getString("secret"), row.getObject("event_id", UUID.class),
					row.getString("type"), row.getString("body")))
			.list();
	}

	private void attempt(Claimed delivery) {
		byte[] body = delivery.body().getBytes(StandardCharsets.UTF_8);
		Integer status = null;
		String error;
		try {
			HttpRequest request = HttpRequest.newBuilder(URI.create(delivery.url()))
				.timeout(this.properties.timeout())
				.header("Content-Type", "application/json")
				.header("User-Agent", "Patchbay-Webhooks")
				.header("X-Patchbay-Event", delivery.type())
				.header("X-Patchbay-Event-Id", delivery.eventId().toString())
				.header("X-Patchbay-Delivery", delivery.id().toString())
				.header(SIGNATURE_HEADER, signature(delivery.secret(), body))
				.POST(HttpRequest.BodyPublishers.ofByteArray(body))
				.build();
			status = this.http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
			error = (status >= 200 && status < 300) ? null : "answered HTTP " + status;
		}
		catch (HttpTimeoutException ex) {
			error = "no answer within " + this.properties.timeout().toMillis() + " ms";
		}
		catch (ConnectException ex) {
			// The JDK leaves the message of a refused connection empty.
			error = "could not connect: " + ((ex.getMessage() != null) ? ex.getMessage() : "connection refused");
		}
		catch (IOException | IllegalArgumentException ex) {
			error = "the request failed: " + String.valueOf(ex.getMessage());
		}
		catch (InterruptedException ex) {
			// Shutting down: the claim expires and another instance (or this one,
			// restarted) tries again.
			Thread.currentThread().interrupt();
			return;
		}
		record(delivery, status, error);
	}

	/**
	 * Records an attempt's outcome, unless the claim expired meanwhile and another
	 * instance has claimed the delivery again (it counted another attempt).
	 */
	private void record(Claimed delivery, Integer status, String error) {
		try {
			if (error == null) {
				this.jdbc.sql("""
						update webhook_delivery set status = 'DELIVERED', last_status = :status, last_error = null,
						finished_at = now() where id = :id and attempts = :attempts and status = 'PENDING'""")
					.param("status", status)
					.param("id", delivery.id())
					.param("attempts", delivery.attempts())
					.update();
				return;
			}
			String reason = (error.length() > MAX_ERROR_LENGTH) ? error.substring(0, MAX_ERROR_LENGTH) : error;
			boolean last = delivery.attempts() >= this.properties.attempts();
			this.jdbc.sql("""
					update webhook_delivery set status = :next, last_status = :status, last_error = :error,
					next_attempt_at = now() + make_interval(secs => :backoffSeconds),
					finished_at = case when :last then now() end
					where id = :id and attempts = :attempts and status = 'PENDING'""")
				.param("next", last ? "FAILED" : "PENDING")
				.param("status", status)
				.param("error", reason)
				.param("backoffSeconds", backoff(delivery.attempts()).toMillis() / 1000.0)
				.param("last", last)
				.param("id", delivery.id())
				.param("attempts", delivery.attempts())
				.update();
			if (last) {
				logger.warn("Gave up delivering event {} to {} after {} attempts: {}", delivery.eventId(),
						delivery.url(), delivery.attempts(), reason);
			}
		}
		catch (RuntimeException ex) {
			// The claim expires and the delivery is tried again.
			logger.warn("Could not record delivery {}", delivery.id(), ex);
		}
	}

	/** The wait after the n-th failed attempt: the initial backoff, doubled each time. */
	Duration backoff(int attempts) {
		Duration wait = this.properties.initialBackoff();
		for (int i = 1; i < attempts && wait.compareTo(this.properties.maxBackoff()) < 0; i++) {
			wait = wait.multipliedBy(2);
		}
		return (wait.compareTo(this.properties.maxBackoff()) > 0) ? this.properties.maxBackoff() : wait;
	}

	/** {@code sha256=} and the hex HMAC-SHA256 of the body, keyed by the secret. */
	static String signature(String secret, byte[] body) {
		try {
			Mac mac = Mac.getInstance("HmacSHA256");
			mac.init(new SecretKeySpec(secret.getBytes(StandardCharsets.UTF_8), "HmacSHA256"));
			return "sha256=" + HexFormat.of().formatHex(mac.doFinal(body));
		}
		catch (GeneralSecurityException ex) {
			throw new IllegalStateException("HmacSHA256 is part of every JDK", ex);
		}
	}

	/** Forgets finished deliveries, and events nothing waits for, past the retention. */
	private void purge() {
		try {
			double seconds = this.properties.retention().toMillis() / 1000.0;
			int deliveries = this.jdbc.sql("""
					delete from webhook_delivery where status <> 'PENDING'
					and created_at < now() - make_interval(secs => :seconds)""").param("seconds", seconds).update();
			int events = this.jdbc.sql("""
					delete from event_log e where occurred_at < now() - make_interval(secs => :seconds)
					and not exists (select 1 from webhook_delivery d where d.event_id = e.id)""")
				.param("seconds", seconds)
				.update();
			if (deliveries + events > 0) {
				logger.info("Purged {} events and {} finished deliveries older than {}", events, deliveries,
						this.properties.retention());
			}
		}
		catch (RuntimeException ex) {
			logger.warn("Could not purge old events", ex);
		}
	}

	@Override
	public void close() throws InterruptedException {
		this.closing = true;
		this.scheduler.shutdownNow();
		this.senders.shutdownNow();
		this.senders.awaitTermination(5, TimeUnit.SECONDS);
	}

	/** A delivery claimed for one attempt, with what it needs to send it. */
	private record Claimed(UUID id, int attempts, String url, String secret, UUID eventId, String type, String body) {
	}

}
