package dev.patchbay.security;

import java.util.Arrays;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonValue;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * What an API key may do. Each role includes the ones before it: readers read and run
 * inference, publishers also write to the registry and compose, admins also manage keys.
 */
public enum Role {

	READER, PUBLISHER, ADMIN;

	/** Whether a key with this role may do what {@code required} allows. */
	public boolean includes(Role required) {
		return ordinal() >= required.ordinal();
	}

	@JsonValue
	public String wireName() {
		return name().toLowerCase();
	}

	/**
	 * The role a request names.
	 * @throws InvalidInputException naming the {@code role} field if there is no such
	 * role
	 */
	public static Role fromWireName(String name) {
		return Arrays.stream(values())
			.filter((role) -> role.wireName().equals(name))
			.findFirst()
			.orElseThrow(() -> new InvalidInputException(ProblemKind.INVALID_ROLE,
					"role: must be one of reader, publisher, admin, not " + name, Map.of("field", "role")));
	}

}
