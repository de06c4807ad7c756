package dev.patchbay.api;

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
import dev.patchbay.events.DeliveryView;
import dev.patchbay.events.WebhookRequest;
import dev.patchbay.events.WebhookView;
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
		WebhookView webhook = this.webhooks.register(request);
		return ResponseEntity.created(
				ServletUriComponentsBuilder.fromCurrentRequestUri().path("/{id}").buildAndExpand(webhook.id()).toUri())
			.body(webhook);
	}

	@GetMapping
	List<WebhookView> list() {
		return this.webhooks.list();
	}

	@GetMapping("/{id}")
	WebhookView get(@PathVariable UUID id) {
		return this.webhooks.get(id);
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
		return PageResponse.from(this.webhooks.deliveries(id, PageRequest.of(page, size)));
	}

}
