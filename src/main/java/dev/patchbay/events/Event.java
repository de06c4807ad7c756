package dev.patchbay.events;

import java.time.Instant;
import java.util.UUID;

/**
 * An event as stored and delivered.
 *
 * @param id the event id, the same in every delivery and stream of it
 * @param seq its position in the log, the SSE {@code id} of a composition's stream
 * @param type what happened
 * @param compositionId the composition whose stream carries it, else null
 * @param occurredAt when it was published, by the publishing instance's clock
 * @param body the JSON document delivered: {@code {id, type, occurredAt, data}}
 */
public record Event(UUID id, long seq, EventType type, UUID compositionId, Instant occurredAt, String body) {
}
