package dev.patchbay.security;

import java.time.Instant;
import java.util.UUID;

/**
 * A key just issued. The only time the key itself is shown: it is stored hashed.
 *
 * @param id the key's id, for revoking it
 * @param name what the key is for
 * @param role what the key may do
 * @param prefix the key's first characters, to tell keys apart
 * @param createdAt when the key was issued
 * @param key the secret to send as {@code Authorization: Bearer <key>}
 */
public record IssuedKey(UUID id, String name, Role role, String prefix, Instant createdAt, String key) {

	static IssuedKey of(ApiKeyView view, String key) {
		return new IssuedKey(view.id(), view.name(), view.role(), view.prefix(), view.createdAt(), key);
	}

}
