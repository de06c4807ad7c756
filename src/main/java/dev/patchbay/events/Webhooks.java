package dev.patchbay.events;

import java.net.URI;
import java.net.URISyntaxException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.PageImpl;
import org.springframework.data.domain.Pageable;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * Registers, lists and removes webhooks, and lists their deliveries. Removing a webhook
 * removes its deliveries, pending ones included.
 */
@Service
public class Webhooks {

	static final int MAX_URL_LENGTH = 2000;

	static final int MIN_SECRET_LENGTH = 16;

	static final int MAX_SECRET_LENGTH = 200;

	private final JdbcClient jdbc;

	Webhooks(JdbcClient jdbc) {
		this.jdbc = jdbc;
	}

	/**
	 * Registers a webhook; it receives the events published from now on.
	 * @param url where deliveries are POSTed: absolute http or https
	 * @param events the wire names of the event types it receives
	 * @param secret the key of each delivery's HMAC-SHA256 signature
	 * @throws InvalidInputException naming {@code url}, {@code secret} or
	 * {@code events[i]} when one is missing or invalid
	 */
	@Transactional
	public Webhook register(String url, List<String> events, String secret) {
		String checkedUrl = checkUrl(url);
		List<EventType> eventTypes = checkEvents(events);
		checkSecret(secret);
		UUID id = UUID.randomUUID();
		Instant createdAt = Instant.now();
		this.jdbc.sql("insert into webhook (id, url, secret, created_at) values (:id, :url, :secret, :createdAt)")
			.param("id", id)
			.param("url", checkedUrl)
			.param("secret", secret)
			.param("createdAt", Timestamp.from(createdAt))
			.update();
		for (EventType event : eventTypes) {
			this.jdbc.sql("insert into webhook_event (webhook_id, event_type) values (:id, :type)")
				.param("id", id)
				.param("type", event.wireName())
				.update();
		}
		return get(id);
	}

	/** Every webhook, oldest first. */
	@Transactional(readOnly = true)
	public List<Webhook> list() {
		return views("");
	}

	/**
	 * @throws NotFoundException if no webhook has the id
	 */
	@Transactional(readOnly = true)
	public Webhook get(UUID id) {
		List<Webhook> found = views("where w.id = :id", id);
		if (found.isEmpty()) {
			throw WebhookNotFoundException.forId(id);
		}
		return found.get(0);
	}

	/**
	 * Removes a webhook and its deliveries; an attempt already under way still completes.
	 * @throws NotFoundException if no webhook has the id
	 */
	@Transactional
	public void delete(UUID id) {
		if (this.jdbc.sql("delete from webhook where id = :id").param("id", id).update() == 0) {
			throw WebhookNotFoundException.forId(id);
		}
	}

	/**
	 * One page of a webhook's deliveries, newest first.
	 * @throws NotFoundException if no webhook has the id
	 */
	@Transactional(readOnly = true)
	public Page<Delivery> deliveries(UUID webhookId, Pageable pageable) {
		get(webhookId);
		long total = this.jdbc.sql("select count(*) from webhook_delivery where webhook_id = :id")
			.param("id", webhookId)
			.query(Long.class)
			.single();
		List<Delivery> page = this.jdbc.sql("""
				select d.*, e.type from webhook_delivery d join event_log e on e.id = d.event_id
				where d.webhook_id = :id order by d.created_at desc, d.id limit :limit offset :offset""")
			.param("id", webhookId)
			.param("limit", pageable.getPageSize())
			.param("offset", pageable.getOffset())
			.query((row, n) -> delivery(row))
			.list();
		return new PageImpl<>(page, pageable, total);
	}

	private static Delivery delivery(ResultSet row) throws SQLException {
		DeliveryStatus status = DeliveryStatus.valueOf(row.getString("status"));
		return new Delivery(row.getObject("id", UUID.class), row.getObject("webhook_id", UUID.class),
				row.getObject("event_id", UUID.class), EventType.fromWireName(row.getString("type")).orElse(null),
				status, row.getInt("attempts"), (Integer) row.getObject("last_status"), row.getString("last_error"),
				(status == DeliveryStatus.PENDING) ? instant(row, "next_attempt_at") : null, instant(row, "created_at"),
				instant(row, "finished_at"));
	}

	private static Instant instant(ResultSet row, String column) throws SQLException {
		Timestamp timestamp = row.getTimestamp(column);
		return (timestamp != null) ? timestamp.toInstant() : null;
	}

	private List<Webhook> views(String where, UUID... id) {
		JdbcClient.StatementSpec statement = this.jdbc.sql("""
				select w.id, w.url, w.created_at, s.event_type from webhook w
				left join webhook_event s on s.webhook_id = w.id %s order by w.created_at, w.id, s.event_type"""
			.formatted(where));
		if (id.length > 0) {
			statement = statement.param("id", id[0]);
		}
		Map<UUID, Webhook> views = new LinkedHashMap<>();
		statement.query((row) -> {
			UUID webhookId = row.getObject("id", UUID.class);
			Webhook view = views.computeIfAbsent(webhookId, (key) -> {
				try {
					return new Webhook(key, row.getString("url"), new ArrayList<>(), instant(row, "created_at"));
				}
				catch (SQLException ex) {
					throw new IllegalStateException(ex);
				}
			});
			EventType.fromWireName(row.getString("event_type")).ifPresent(view.events()::add);
		});
		return views.values()
			.stream()
			.map((view) -> new Webhook(view.id(), view.url(), List.copyOf(view.events()), view.createdAt()))
			.toList();
	}

	private static String checkUrl(String url) {
		if (url == null || url.isBlank()) {
			throw invalid("url", "is required");
		}
		if (url.length() > MAX_URL_LENGTH) {
			throw invalid("url", "is longer than " + MAX_URL_LENGTH + " characters");
		}
		URI uri;
		try {
			uri = new URI(url);
		}
		catch (URISyntaxException ex) {
			throw invalid("url", "is not a valid URL: " + ex.getReason());
		}
		String scheme = (uri.getScheme() != null) ? uri.getScheme().toLowerCase(Locale.ROOT) : null;
		if (!"http".equals(scheme) && !"https".equals(scheme)) {
			throw invalid("url", "must be an absolute http or https URL");
		}
		if (uri.getHost() == null || uri.getHost().isEmpty()) {
			throw invalid("url", "must name a host");
		}
		if (uri.getRawUserInfo() != null) {
			// It would show in every listing; the secret is what authenticates
			// deliveries.
			throw invalid("url", "must not hold credentials; deliveries are signed with the secret");
		}
		if (uri.getRawFragment() != null) {
			throw invalid("url", "must not have a fragment");
		}
		return url;
	}

	private static List<EventType> checkEvents(List<String> names) {
		String known = Arrays.stream(EventType.values()).map(EventType::wireName).toList().toString();
		if (names == null || names.isEmpty()) {
			throw invalid("events", "must name at least one event type of " + known);
		}
		Set<EventType> events = new LinkedHashSet<>();
		for (int i = 0; i < names.size(); i++) {
			String name = names.get(i);
			String field = "events[" + i + "]";
			EventType type = EventType.fromWireName(name)
				.orElseThrow(() -> invalid(field, "'" + name + "' is not an event type; expected one of " + known));
			if (!events.add(type)) {
				throw invalid(field, "'" + name + "' is named twice");
			}
		}
		return List.copyOf(events);
	}

	private static void checkSecret(String secret) {
		if (secret == null) {
			throw invalid("secret", "is required");
		}
		if (secret.length() < MIN_SECRET_LENGTH || secret.length() > MAX_SECRET_LENGTH
				|| secret.chars().anyMatch(Character::isISOControl)) {
			throw invalid("secret", "must be " + MIN_SECRET_LENGTH + " to " + MAX_SECRET_LENGTH
					+ " characters, none of them control characters");
		}
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_WEBHOOK, field + ": " + reason, Map.of("field", field));
	}

}
