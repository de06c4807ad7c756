package dev.patchbay.events;

import java.util.List;

/**
 * A webhook to register.
 *
 * @param url where deliveries are POSTed: absolute http or https, at most 2000 characters
 * @param events the event types it receives, e.g. {@code composition.ready}
 * @param secret the key of each delivery's HMAC-SHA256 signature, 16 to 200 characters
 */
public record WebhookRequest(String url, List<String> events, String secret) {
}
