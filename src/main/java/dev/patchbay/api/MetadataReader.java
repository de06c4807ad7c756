package dev.patchbay.api;

import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Set;

import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validator;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.stereotype.Component;

import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * Parses and validates the JSON {@code metadata} part of an upload. It is read as text so
 * that clients need not set a content type on the part, and every invalid field is named
 * at once.
 */
@Component
class MetadataReader {

	private final JsonMapper json;

	private final Validator validator;

	MetadataReader(JsonMapper json, Validator validator) {
		this.json = json;
		this.validator = validator;
	}

	ArtifactMetadata read(String metadata) {
		ArtifactMetadata parsed;
		try {
			UploadMetadata upload = this.json.readValue(metadata, UploadMetadata.class);
			parsed = (upload != null) ? upload.metadata() : null;
		}
		catch (JacksonException ex) {
			JsonErrors.Located located = JsonErrors.locate(ex, "metadata");
			throw invalid(located.field(), located.reason());
		}
		if (parsed == null) {
			throw invalid("metadata", "is empty");
		}
		Set<ConstraintViolation<ArtifactMetadata>> violations = this.validator.validate(parsed);
		if (!violations.isEmpty()) {
			List<String> fields = violations.stream()
				.sorted(Comparator.comparing((violation) -> violation.getPropertyPath().toString()))
				.map((violation) -> "metadata." + violation.getPropertyPath() + " " + violation.getMessage())
				.toList();
			ConstraintViolation<ArtifactMetadata> first = violations.iterator().next();
			throw new InvalidInputException(ProblemKind.INVALID_METADATA, String.join("; ", fields),
					Map.of("field", "metadata." + first.getPropertyPath(), "errors", fields));
		}
		return parsed;
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_METADATA, field + ": " + reason, Map.of("field", field));
	}

}
