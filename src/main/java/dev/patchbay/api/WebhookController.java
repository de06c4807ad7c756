package dev.patchbay.api;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;

import org.springframework.data.domain.PageRequest;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.api.Responses.PageResponse;
import dev.patchbay.events.Delivery;
import dev.patchbay.events.EventType;
import dev.patchbay.events.Webhook;
import dev.patchbay.events.Webhooks;

/**
 * Webhooks and their deliveries (admin: a webhook sends registry events to any URL).
 */
@RestController
@RequestMapping("/api/v1/webhooks")
class WebhookController {

	private final Webhooks webhooks;

	WebhookController(Webhooks webhooks) {
		this.webhooks = webhooks;
	}

	@PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<WebhookView> register(@RequestBody WebhookRequest request) {
		Webhook webhook = this.webhooks.register(request.url(), request.events(), request.secret());
		return ResponseEntity.created(
				ServletUriComponentsBuilder.fromCurrentRequestUri().path("/{id}").buildAndExpand(webhook.id()).toUri())
			.body(WebhookView.of(webhook));
	}

	@GetMapping
	List<WebhookView> list() {
		return this.webhooks.list().stream().map(WebhookView::of).toList();
	}

	@GetMapping("/{id}")
	WebhookView get(@PathVariable UUID id) {
		return WebhookView.of(this.webhooks.get(id));
	}

	@DeleteMapping("/{id}")
	ResponseEntity<Void> delete(@PathVariable UUID id) {
		this.webhooks.delete(id);
		return ResponseEntity.noContent().build();
	}

	/** Newest first. */
	@GetMapping("/{id}/deliveries")
	PageResponse<DeliveryView> deliveries(@PathVariable UUID id, @RequestParam(defaultValue = "0") @Min(0) int page,
			@RequestParam(defaultValue = "20") @Min(1) @Max(200) int size) {
		return PageResponse.from(this.webhooks.deliveries(id, PageRequest.of(page, size)).map(DeliveryView::of));
	}

	/**
	 * A webhook to register.
	 *
	 * @param url where deliveries are POSTed: absolute http or https, at most 2000
	 * characters
	 * @param events the event types it receives, e.g. {@code composition.ready}
	 * @param secret the key of each delivery's HMAC-SHA256 signature, 16 to 200
	 * characters
	 */
	record WebhookRequest(String url, List<String> events, String secret) {
	}

	/** A {@link Webhook} as the API shows it: event types by their wire names. */
	record WebhookView(UUID id, String url, List<String> events, Instant createdAt) {

		static WebhookView of(Webhook webhook) {
			return new WebhookView(webhook.id(), webhook.url(),
					webhook.events().stream().map(EventType::wireName).toList(), webhook.createdAt());
		}

	}

	/**
	 * A {@link Delivery} as the API shows it: its event type and status by their wire
	 * names.
	 */
	record DeliveryView(UUID id, UUID webhookId, UUID eventId, String eventType, String status, int attempts,
			Integer lastStatus, String lastError, Instant nextAttemptAt, Instant createdAt, Instant finishedAt) {

		static DeliveryView of(Delivery delivery) {
			return new DeliveryView(delivery.id(), delivery.webhookId(), delivery.eventId(),
					(delivery.eventType() != null) ? delivery.eventType().wireName() : null,
					delivery.status().wireName(), delivery.attempts(), delivery.lastStatus(), delivery.lastError(),
					delivery.nextAttemptAt(), delivery.createdAt(), delivery.finishedAt());
		}

	}

}
