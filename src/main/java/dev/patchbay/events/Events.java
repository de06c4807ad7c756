package dev.patchbay.events;

import java.sql.Timestamp;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionSynchronization;
import org.springframework.transaction.support.TransactionSynchronizationManager;

/**
 * Publishes events: each goes into the event log with one pending delivery per webhook
 * subscribed to its type, in the caller's transaction. A change and the event that
 * reports it therefore commit together or not at all, and deliveries are sent by a worker
 * afterwards ({@link WebhookDeliveries}), never on the caller's thread.
 */
@Service
public class Events {

	private final JdbcClient jdbc;

	private final JsonMapper json;

	private final WebhookDeliveries deliveries;

	Events(JdbcClient jdbc, JsonMapper json, WebhookDeliveries deliveries) {
		this.jdbc = jdbc;
		this.json = json;
		this.deliveries = deliveries;
	}

	/**
	 * Publishes an event in the current transaction, or in its own when there is none.
	 * @param data the event's {@code data}: a record or map that serializes to a JSON
	 * object (see {@link EventType} for the fields of each type)
	 * @throws IllegalArgumentException if data is not a JSON object
	 */
	@Transactional
	public Event publish(EventType type, Object data) {
		return publish(type, data, null);
	}

	/**
	 * Publishes an event that also goes to a composition's event stream.
	 * @param compositionId the composition, or null
	 * @throws IllegalArgumentException if data is not a JSON object
	 */
	@Transactional
	public Event publish(EventType type, Object data, UUID compositionId) {
		JsonNode tree = this.json.valueToTree(data);
		if (!tree.isObject()) {
			throw new IllegalArgumentException("the data of a " + type.wireName() + " event must be a JSON object");
		}
		UUID id = UUID.randomUUID();
		// The column keeps microseconds: the body says exactly what the row does.
		Instant occurredAt = Instant.now().truncatedTo(ChronoUnit.MICROS);
		Map<String, Object> envelope = new LinkedHashMap<>();
		envelope.put("id", id);
		envelope.put("type", type.wireName());
		envelope.put("occurredAt", occurredAt.toString());
		envelope.put("data", tree);
		String body = this.json.writeValueAsString(envelope);
		long seq = this.jdbc.sql("""
				insert into event_log (id, type, composition_id, occurred_at, body)
				values (:id, :type, :compositionId, :occurredAt, :body) returning seq""")
			.param("id", id)
			.param("type", type.wireName())
			.param("compositionId", compositionId)
			.param("occurredAt", Timestamp.from(occurredAt))
			.param("body", body)
			.query(Long.class)
			.single();
		int subscribed = this.jdbc.sql("""
				insert into webhook_delivery (id, webhook_id, event_id, status, attempts, next_attempt_at, created_at)
				select gen_random_uuid(), s.webhook_id, :eventId, 'PENDING', 0, now(), now()
				from webhook_event s where s.event_type = :type""")
			.param("eventId", id)
			.param("type", type.wireName())
			.update();
		if (subscribed > 0 && TransactionSynchronizationManager.isSynchronizationActive()) {
			// Sent as soon as it is committed, rather than at the next poll.
			TransactionSynchronizationManager.registerSynchronization(new TransactionSynchronization() {
				@Override
				public void afterCommit() {
					Events.this.deliveries.wake();
				}
			});
		}
		return new Event(id, seq, type, compositionId, occurredAt, body);
	}

	/**
	 * A composition's events after a position in the log, in order.
	 * @param afterSeq the last position already seen, or 0
	 */
	@Transactional(readOnly = true)
	public List<Event> forComposition(UUID compositionId, long afterSeq) {
		return this.jdbc.sql("""
				select id, seq, type, composition_id, occurred_at, body from event_log
				where composition_id = :compositionId and seq > :afterSeq order by seq""")
			.param("compositionId", compositionId)
			.param("afterSeq", afterSeq)
			.query((row, n) -> new Event(row.getObject("id", UUID.class), row.getLong("seq"),
					EventType.fromWireName(row.getString("type")).orElseThrow(),
					row.getObject("composition_id", UUID.class), row.getTimestamp("occurred_at").toInstant(),
					row.getString("body")))
			.list();
	}

}
