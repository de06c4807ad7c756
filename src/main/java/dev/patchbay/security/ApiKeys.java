package dev.patchbay.security;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.beans.factory.ObjectProvider;
import org.springframework.boot.context.event.ApplicationReadyEvent;
import org.springframework.context.event.EventListener;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.patchbay.registry.EmbeddedDatabase;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.Sha256;

/**
 * Issues, lists, revokes and checks API keys. Keys are 256 random bits, shown once when
 * issued and stored as SHA-256 hashes.
 */
@Service
public class ApiKeys {

	private static final Logger logger = LoggerFactory.getLogger(ApiKeys.class);

	private static final String KEY_PREFIX = "pb_";

	private final SecureRandom random = new SecureRandom();

	private final ApiKeyRepository keys;

	private final String adminKeyHash;

	private final boolean embeddedDatabase;

	ApiKeys(ApiKeyRepository keys, SecurityProperties properties, ObjectProvider<EmbeddedDatabase> embedded) {
		this.keys = keys;
		this.adminKeyHash = (properties.adminKey() != null) ? Sha256.hex(properties.adminKey()) : null;
		this.embeddedDatabase = embedded.getIfAvailable() != null;
	}

	/**
	 * The role of the key a request presents, if it is a known key.
	 */
	@Transactional(readOnly = true)
	public Optional<Role> authenticate(String key) {
		String hash = Sha256.hex(key);
		// Constant-time, so response timing says nothing about how close a guess was.
		if (this.adminKeyHash != null && MessageDigest.isEqual(hash.getBytes(StandardCharsets.US_ASCII),
				this.adminKeyHash.getBytes(StandardCharsets.US_ASCII))) {
			return Optional.of(Role.ADMIN);
		}
		return this.keys.findByKeyHash(hash).map(ApiKey::getRole);
	}

	/**
	 * Issues a new key.
	 * @throws InvalidInputException naming {@code name} or {@code role} if either is
	 * missing or invalid
	 */
	@Transactional
	public IssuedKey issue(String name, String role) {
		if (name == null || name.isBlank() || name.length() > 100 || name.chars().anyMatch(Character::isISOControl)) {
			throw new InvalidInputException(ProblemKind.INVALID_KEY_REQUEST,
					"name: must be 1 to 100 characters, none of them control characters", Map.of("field", "name"));
		}
		if (role == null) {
			throw new InvalidInputException(ProblemKind.INVALID_KEY_REQUEST,
					"role: is required (reader, publisher or admin)", Map.of("field", "role"));
		}
		return issue(name, Role.fromWireName(role));
	}

	private IssuedKey issue(String name, Role role) {
		byte[] secret = new byte[32];
		this.random.nextBytes(secret);
		String key = KEY_PREFIX + Base64.getUrlEncoder().withoutPadding().encodeToString(secret);
		ApiKey stored = this.keys.save(new ApiKey(name, role, Sha256.hex(key), key.substring(0, 10)));
		return new IssuedKey(stored.details(), key);
	}

	@Transactional(readOnly = true)
	public List<ApiKeyDetails> list() {
		return this.keys.findAllByOrderByCreatedAt().stream().map(ApiKey::details).toList();
	}

	/**
	 * Revokes a key; requests presenting it fail from now on.
	 * @throws NotFoundException if there is no such key
	 */
	@Transactional
	public void revoke(UUID id) {
		ApiKey key = this.keys.findById(id).orElseThrow(() -> ApiKeyNotFoundException.forId(id));
		this.keys.delete(key);
	}

	/**
	 * On a local default install (embedded database, no admin key configured) someone has
	 * to be able to issue the first key: one admin key is generated, once, and printed.
	 */
	@EventListener(ApplicationReadyEvent.class)
	@Transactional
	public void generateBootstrapKey() {
		if (this.adminKeyHash == null && this.embeddedDatabase && !this.keys.existsByRole(Role.ADMIN)) {
			IssuedKey key = issue("bootstrap-admin", Role.ADMIN);
			logger.warn("Generated the bootstrap admin API key; it is shown only this once: {}", key.key());
		}
	}

}
