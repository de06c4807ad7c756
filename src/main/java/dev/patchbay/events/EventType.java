package dev.patchbay.events;

import java.util.Arrays;
import java.util.Optional;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * What happened, as webhooks subscribe to it and deliveries name it in {@code type}. The
 * {@code data} each carries is listed here, and in openapi.yaml's {@code Event} schema.
 */
public enum EventType {

	/**
	 * A model, patch or dataset was registered: {@code artifactId}, {@code artifactType},
	 * {@code name}, {@code version}, {@code kind} (patches), {@code compositionId} (a
	 * materialized composition's result).
	 */
	ARTIFACT_CREATED("artifact.created"),

	/**
	 * An artifact was deleted: {@code artifactId}, {@code artifactType}, {@code name},
	 * {@code version}.
	 */
	ARTIFACT_DELETED("artifact.deleted"),

	/**
	 * A composition's result is computed: {@code compositionId}, {@code recipeDigest},
	 * {@code resultDigest}, {@code resultModelId} (when materialized).
	 */
	COMPOSITION_READY("composition.ready"),

	/**
	 * A composition failed: {@code compositionId}, {@code recipeDigest}, {@code error}
	 * (the problem details).
	 */
	COMPOSITION_FAILED("composition.failed"),

	/**
	 * An alias now names another version: {@code artifactType}, {@code name},
	 * {@code alias}, {@code version}, {@code artifactId}, {@code previousVersion} (null
	 * for a new alias).
	 */
	ALIAS_MOVED("alias.moved");

	private final String wireName;

	EventType(String wireName) {
		this.wireName = wireName;
	}

	@JsonValue
	public String wireName() {
		return this.wireName;
	}

	/** The event type a wire name names, if any. */
	public static Optional<EventType> fromWireName(String name) {
		return Arrays.stream(values()).filter((type) -> type.wireName.equals(name)).findFirst();
	}

}
