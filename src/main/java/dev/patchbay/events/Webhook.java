package dev.patchbay.events;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

/**
 * A registered webhook, without its secret.
 *
 * @param id the webhook id
 * @param url where deliveries go
 * @param events the event types it receives
 * @param createdAt when it was registered
 */
public record Webhook(UUID id, String url, List<EventType> events, Instant createdAt) {
}
