package dev.patchbay.security;

/**
 * A key just issued. The only time the key itself is shown: it is stored hashed.
 *
 * @param details the key's id, name, role, prefix and issue time
 * @param key the secret to send as {@code Authorization: Bearer <key>}
 */
public record IssuedKey(ApiKeyDetails details, String key) {
}
