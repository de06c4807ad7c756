package dev.patchbay.registry;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

/**
 * The {@code data} of the artifact events, as {@link dev.patchbay.events.EventType} lists
 * it.
 */
final class ArtifactEvents {

	private ArtifactEvents() {
	}

	static Map<String, Object> created(ArtifactDetails artifact) {
		Map<String, Object> data = describe(artifact.id(), artifact.type(), artifact.name(), artifact.version(),
				artifact.kind());
		if (artifact.compositionId() != null) {
			data.put("compositionId", artifact.compositionId());
		}
		return data;
	}

	static Map<String, Object> deleted(Artifact artifact) {
		return describe(artifact.getId(), artifact.getType(), artifact.getName(), artifact.getVersion(),
				artifact.getPatchKind());
	}

	private static Map<String, Object> describe(UUID id, ArtifactType type, String name, String version,
			PatchKind kind) {
		Map<String, Object> data = new LinkedHashMap<>();
		data.put("artifactId", id);
		data.put("artifactType", type.name().toLowerCase(Locale.ROOT));
		data.put("name", name);
		data.put("version", version);
		if (kind != null) {
			data.put("kind", kind);
		}
		return data;
	}

}
