package dev.patchbay.registry;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

import jakarta.validation.Valid;
import jakarta.validation.constraints.NotBlank;
import jakarta.validation.constraints.NotNull;
import jakarta.validation.constraints.Pattern;
import jakarta.validation.constraints.Size;

/**
 * What is said about an artifact as it is registered, by a client's upload (mapped from
 * the API's upload metadata) or by the service for what it makes; its constraints are the
 * rules every artifact's name, version and labels follow.
 *
 * @param kind for patches, what kind of patch it is; absent for models and datasets
 * @param name a human name, unique together with the version; no {@code @}, which
 * separates a name from a version or alias in a reference
 * @param version an optional version, e.g. {@code v2}; without one the artifact gets the
 * next number of its name (1, 2, 3 …)
 * @param family an optional model family, e.g. {@code llama}
 * @param baseModelId for patches, the model they were made against, if known
 * @param labels free-form key/value labels used in list filters
 * @param signature for models with a graph, the inputs and outputs that inference
 * declares
 * @param description free text, changeable later
 * @param derivedFrom for models, the model this one was fine-tuned from outside Patchbay,
 * recorded as a {@code finetune} lineage edge
 */
public record ArtifactMetadata(PatchKind kind,
		@NotBlank @Size(max = 200) @Pattern(regexp = NAME, message = NO_CONTROL_OR_AT) String name,
		@Size(max = 100) @Pattern(regexp = NAME, message = NO_CONTROL_OR_AT) String version,
		@Size(max = 100) @Pattern(regexp = PRINTABLE, message = NO_CONTROL) String family, UUID baseModelId,
		Map<@NotNull @Size(min = 1, max = 100) @Pattern(regexp = "[^=\\p{Cntrl}]+",
				message = "must not contain '=' or control characters") String, @NotNull @Size(max = 200) @Pattern(
						regexp = PRINTABLE, message = NO_CONTROL) String> labels,
		@Valid GraphSignature signature,
		@Size(max = 10000) @Pattern(regexp = "[^\\u0000]*", message = "must not contain NUL") String description,
		UUID derivedFrom) {

	/** No NUL (which PostgreSQL cannot store in text) nor other control characters. */
	static final String PRINTABLE = "\\P{Cntrl}*";

	static final String NO_CONTROL = "must not contain control characters";

	/**
	 * Printable, and no {@code @}: a reference {@code name@version} must split one way.
	 */
	static final String NAME = "[^@\\p{Cntrl}]*";

	static final String NO_CONTROL_OR_AT = "must not contain '@' or control characters";

	public ArtifactMetadata(PatchKind kind, String name, String version, String family, UUID baseModelId,
			Map<String, String> labels, GraphSignature signature) {
		this(kind, name, version, family, baseModelId, labels, signature, null, null);
	}

	public ArtifactMetadata {
		// Nulls are kept for validation to name them, rather than failing here.
		labels = (labels != null) ? Collections.unmodifiableMap(new LinkedHashMap<>(labels)) : Map.of();
	}

}
