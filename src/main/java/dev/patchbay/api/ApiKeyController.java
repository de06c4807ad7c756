package dev.patchbay.api;

import java.time.Instant;
import java.util.List;
import java.util.UUID;

import org.springframework.http.CacheControl;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.security.ApiKeyDetails;
import dev.patchbay.security.ApiKeys;
import dev.patchbay.security.IssuedKey;

@RestController
@RequestMapping("/api/v1/keys")
class ApiKeyController {

	private final ApiKeys keys;

	ApiKeyController(ApiKeys keys) {
		this.keys = keys;
	}

	@PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<IssuedKeyView> issue(@RequestBody KeyRequest request) {
		IssuedKey issued = this.keys.issue(request.name(), request.role());
		UUID id = issued.details().id();
		return ResponseEntity
			.created(ServletUriComponentsBuilder.fromCurrentRequestUri().path("/{id}").buildAndExpand(id).toUri())
			// The secret is in this body and nowhere else: no cache may keep a copy.
			.cacheControl(CacheControl.noStore())
			.body(IssuedKeyView.of(issued));
	}

	@GetMapping
	List<ApiKeyView> list() {
		return this.keys.list().stream().map(ApiKeyView::of).toList();
	}

	@DeleteMapping("/{id}")
	ResponseEntity<Void> revoke(@PathVariable UUID id) {
		this.keys.revoke(id);
		return ResponseEntity.noContent().build();
	}

	/**
	 * A request for a new key.
	 *
	 * @param name what the key is for
	 * @param role reader, publisher or admin
	 */
	record KeyRequest(String name, String role) {
	}

	/** An {@link ApiKeyDetails} as listings show it: the role by its wire name. */
	record ApiKeyView(UUID id, String name, String role, String prefix, Instant createdAt) {

		static ApiKeyView of(ApiKeyDetails key) {
			return new ApiKeyView(key.id(), key.name(), key.role().wireName(), key.prefix(), key.createdAt());
		}

	}

	/**
	 * A key just issued, the one body that shows the key itself.
	 *
	 * @param key the secret to send as {@code Authorization: Bearer <key>}
	 */
	record IssuedKeyView(UUID id, String name, String role, String prefix, Instant createdAt, String key) {

		static IssuedKeyView of(IssuedKey issued) {
			ApiKeyDetails key = issued.details();
			return new IssuedKeyView(key.id(), key.name(), key.role().wireName(), key.prefix(), key.createdAt(),
					issued.key());
		}

	}

}
