package dev.patchbay.composition;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;

import com.google.re2j.Pattern;
import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validator;

import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.ClientRegex;
import dev.patchbay.shared.InvalidInputException;

/**
 * The checks every request that derives a patch on the server shares (diffs, signatures,
 * LoRA extraction and combination); each names its own problem type.
 */
final class DerivedRequests {

	private DerivedRequests() {
	}

	/** Builds the request's problem for a field. */
	@FunctionalInterface
	interface Problem {

		InvalidInputException of(String field, String reason);

	}

	/** Client regexes, compiled so that none can hang or exhaust the server. */
	static List<Pattern> patterns(String field, List<String> regexes, Problem invalid) {
		List<Pattern> patterns = new ArrayList<>();
		if (regexes != null) {
			for (int i = 0; i < regexes.size(); i++) {
				try {
					patterns.add(ClientRegex.compile(regexes.get(i)));
				}
				catch (IllegalArgumentException ex) {
					throw invalid.of(field + "[" + i + "]", ex.getMessage());
				}
			}
		}
		return patterns;
	}

	static void require(String field, Object value, Problem invalid) {
		if (value == null || (value instanceof String text && text.isBlank())) {
			throw invalid.of(field, "is required");
		}
	}

	/**
	 * The derived patch's name, version and labels, checked as an upload's metadata; the
	 * first violation by field name is reported, so the answer does not vary.
	 */
	static ArtifactMetadata checked(Validator validator, ArtifactMetadata metadata, Problem invalid) {
		Set<ConstraintViolation<ArtifactMetadata>> violations = validator.validate(metadata);
		if (!violations.isEmpty()) {
			ConstraintViolation<ArtifactMetadata> first = violations.stream()
				.min(Comparator.comparing((violation) -> violation.getPropertyPath().toString()))
				.orElseThrow();
			throw invalid.of(first.getPropertyPath().toString(), first.getMessage());
		}
		return metadata;
	}

}
