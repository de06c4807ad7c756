package dev.patchbay.events;

import java.time.Instant;
import java.util.UUID;

/**
 * One event's delivery to one webhook.
 *
 * @param id the delivery id, sent as {@code X-Patchbay-Delivery}
 * @param webhookId the webhook
 * @param eventId the event, the {@code id} of the delivered body
 * @param eventType what happened
 * @param status pending, delivered or failed
 * @param attempts attempts made so far
 * @param lastStatus the HTTP status of the last answer, or null if there was none
 * @param lastError why the last attempt failed (a status, a timeout, a refused
 * connection), or null
 * @param nextAttemptAt when a pending delivery is next tried, else null
 * @param createdAt when the event was published
 * @param finishedAt when it was delivered or given up
 */
public record Delivery(UUID id, UUID webhookId, UUID eventId, EventType eventType, DeliveryStatus status, int attempts,
		Integer lastStatus, String lastError, Instant nextAttemptAt, Instant createdAt, Instant finishedAt) {
}
