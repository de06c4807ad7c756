package dev.patchbay.security;

import java.time.Instant;
import java.util.UUID;

import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.Table;

/**
 * A stored API key: its hash, never the key itself.
 */
@Entity
@Table(name = "api_key")
class ApiKey {

	@Id
	private UUID id;

	private String name;

	@Enumerated(EnumType.STRING)
	private Role role;

	private String keyHash;

	private String prefix;

	private Instant createdAt;

	protected ApiKey() {
	}

	ApiKey(String name, Role role, String keyHash, String prefix) {
		this.id = UUID.randomUUID();
		this.name = name;
		this.role = role;
		this.keyHash = keyHash;
		this.prefix = prefix;
		this.createdAt = Instant.now();
	}

	Role getRole() {
		return this.role;
	}

	ApiKeyDetails details() {
		return new ApiKeyDetails(this.id, this.name, this.role, this.prefix, this.createdAt);
	}

}
