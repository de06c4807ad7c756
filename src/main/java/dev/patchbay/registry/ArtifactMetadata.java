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
 * The {@code metadata} part of an upload: what the client says about the artifact.
 *
 * @param kind for patches, what kind of patch it is; absent for models and datasets
 * @param name a human name, unique together with the version
 * @param version an optional version, e.g. {@code v2}
 * @param family an optional model family, e.g. {@code llama}
 * @param baseModelId for patches, the model they were made against, if known
 * @param labels free-form key/value labels used in list filters
 * @param signature for models with a graph, the inputs and outputs that inference
 * declares
 * @param derivedFrom for models, the model this one was fine-tuned from outside Patchbay,
 * recorded as a {@code finetune} lineage edge
 */
public record ArtifactMetadata(PatchKind kind,
		@NotBlank @Size(max = 200) @Pattern(regexp = PRINTABLE, message = NO_CONTROL) String name,
		@Size(max = 100) @Pattern(regexp = PRINTABLE, message = NO_CONTROL) String version,
		@Size(max = 100) @Pattern(regexp = PRINTABLE, message = NO_CONTROL) String family, UUID baseModelId,
		Map<@NotNull @Size(min = 1, max = 100) @Pattern(regexp = "[^=\\p{Cntrl}]+",
				message = "must not contain '=' or control characters") String, @NotNull @Size(max = 200) @Pattern(
						regexp = PRINTABLE, message = NO_CONTROL) String> labels,
		@Valid GraphSignature signature, UUID derivedFrom) {

	public ArtifactMetadata(PatchKind kind, String name, String version, String family, UUID baseModelId,
			Map<String, String> labels, GraphSignature signature) {
		this(kind, name, version, family, baseModelId, labels, signature, null);
	}

	/** No NUL (which PostgreSQL cannot store in text) nor other control characters. */
	static final String PRINTABLE = "\\P{Cntrl}*";

	static final String NO_CONTROL = "must not contain control characters";

	public ArtifactMetadata {
		// Nulls are kept for validation to name them, rather than failing here.
		labels = (labels != null) ? Collections.unmodifiableMap(new LinkedHashMap<>(labels)) : Map.of();
	}

}
