package dev.patchbay.events;

import java.util.Map;
import java.util.UUID;

import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * No webhook has the requested id.
 */
final class WebhookNotFoundException extends NotFoundException {

	private WebhookNotFoundException(UUID id) {
		super(ProblemKind.WEBHOOK_NOT_FOUND, "no webhook has id " + id, Map.of("id", id.toString()));
	}

	static WebhookNotFoundException forId(UUID id) {
		return new WebhookNotFoundException(id);
	}

}
