package dev.patchbay.security;

import java.time.Instant;
import java.util.UUID;

/**
 * An API key as listings show it: everything but the key.
 *
 * @param id the key's id, for revoking it
 * @param name what the key is for
 * @param role what the key may do
 * @param prefix the key's first characters, to tell keys apart
 * @param createdAt when the key was issued
 */
public record ApiKeyDetails(UUID id, String name, Role role, String prefix, Instant createdAt) {
}
