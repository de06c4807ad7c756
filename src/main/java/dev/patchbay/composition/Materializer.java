package dev.patchbay.composition;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.springframework.stereotype.Component;

import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.LineageLink;
import dev.patchbay.registry.Registry;

/**
 * Turns a composition's result into a registered model: its name (the request's
 * {@code resultName}, else one derived from the base), its lineage to the base and the
 * terms, and its base's graph unless layer ranges (slices) changed its architecture. Kept
 * apart from the classes that compute results ({@link CompositionWorker},
 * {@link LocalResults}), which only decide when a result is to be materialized.
 */
@Component
class Materializer {

	private final Registry registry;

	private final Ingest ingest;

	Materializer(Registry registry, Ingest ingest) {
		this.registry = registry;
		this.ingest = ingest;
	}

	/**
	 * Registers the result, storing it durably (fsync and rename, or the S3 upload) under
	 * the registry's lock on its digest.
	 * @param result the result's bytes, in the local cache
	 * @return the new model's id
	 */
	UUID register(Composition composition, Path result, String digest) throws IOException {
		// Without a base model (linear, karcher, …) the first term names the result.
		UUID baseId = (composition.getBaseModelId() != null) ? composition.getBaseModelId()
				: composition.getTerms().get(0).modelId();
		ArtifactDetails base = this.registry.get(ArtifactType.MODEL, baseId);
		String baseName = base.name().substring(0, Math.min(base.name().length(), 100));
		String name = (composition.getResultName() != null) ? composition.getResultName()
				: baseName + "+composition-" + composition.getId();
		ArtifactMetadata metadata = new ArtifactMetadata(null, name, null, base.family(), baseId,
				Map.of("patchbay.dev/composition", composition.getId().toString()), null);
		return this.ingest
			.registerStoredModel(metadata, result, digest, "model.safetensors", lineage(composition),
					composition.getId(), !composition.recipe().sliced())
			.id();
	}

	private static List<LineageLink> lineage(Composition composition) {
		List<LineageLink> lineage = new ArrayList<>();
		// A slices recipe lists a model once per slice, and its base among the sources.
		Set<UUID> listed = new HashSet<>();
		if (composition.getBaseModelId() != null) {
			lineage.add(new LineageLink(composition.getBaseModelId(), "base"));
			listed.add(composition.getBaseModelId());
		}
		composition.getTerms().forEach((term) -> {
			UUID source = (term.modelId() != null) ? term.modelId() : term.patchId();
			if (term.sliceIndex() == null || listed.add(source)) {
				lineage.add((term.modelId() != null) ? new LineageLink(term.modelId(), "model")
						: new LineageLink(term.patchId(), "patch"));
			}
		});
		return lineage;
	}

}
