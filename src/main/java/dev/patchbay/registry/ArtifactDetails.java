package dev.patchbay.registry;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * A registry entry as other modules read it; the API shows it as its own response record.
 *
 * @param id the artifact id
 * @param type model, patch or dataset
 * @param kind the patch kind, null for models and datasets
 * @param name the name
 * @param version the version: as given, else the version number
 * @param versionNumber 1, 2, 3 … within the name, in registration order
 * @param family the model family, may be null
 * @param baseModelId the model a patch belongs to, may be null
 * @param labels key/value labels
 * @param sizeBytes total size of all files
 * @param parameterCount total elements over all tensors
 * @param tensorCount number of tensors
 * @param files the uploaded files with their sha256
 * @param lineage the artifacts this one was derived from
 * @param compositionId the composition a materialized model came from, else null
 * @param config kind-specific settings as JSON (the adapter config of a lora patch, the
 * quantization and compression of a signature), else null
 * @param createdAt when it was registered
 * @param description free text, may be null
 * @param aliases the aliases of its name that point at it
 */
public record ArtifactDetails(UUID id, ArtifactType type, PatchKind kind, String name, String version,
		int versionNumber, String family, UUID baseModelId, Map<String, String> labels, long sizeBytes,
		long parameterCount, int tensorCount, List<StoredFile> files, List<LineageLink> lineage, UUID compositionId,
		String config, Instant createdAt, String description, List<String> aliases) {

	/** A new artifact, or one whose aliases the caller does not need. */
	static ArtifactDetails of(Artifact artifact) {
		return of(artifact, List.of());
	}

	static ArtifactDetails of(Artifact artifact, List<String> aliases) {
		return new ArtifactDetails(artifact.getId(), artifact.getType(), artifact.getPatchKind(), artifact.getName(),
				artifact.getVersion(), artifact.getVersionNumber(), artifact.getFamily(), artifact.getBaseModelId(),
				Map.copyOf(artifact.getLabels()), artifact.getSizeBytes(), artifact.getParameterCount(),
				artifact.getTensors().size(), artifact.getFiles().stream().map(ArtifactFile::stored).toList(),
				artifact.getLineage().stream().map(LineageEdge::link).toList(), artifact.getCompositionId(),
				artifact.getConfig(), artifact.getCreatedAt(), artifact.getDescription(), List.copyOf(aliases));
	}

}
