package dev.patchbay.composition;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactNotFoundException;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.LineageLink;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.StoredFile;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;

/**
 * Walks a model's ancestry: lineage edges of models and patches (external fine-tunes,
 * derived diffs and signatures), a patch's base model, and the composition a model was
 * materialized from with its base and terms, up to the roots.
 */
@Service
public class Lineages {

	/**
	 * Bounds one answer: ancestries are chains and small trees, not the whole registry.
	 */
	static final int MAX_NODES = 10_000;

	private final Registry registry;

	private final CompositionRepository compositions;

	Lineages(Registry registry, CompositionRepository compositions) {
		this.registry = registry;
		this.compositions = compositions;
	}

	/**
	 * The ancestry graph of a model.
	 * @throws ArtifactNotFoundException if no model has the id
	 * @throws UnprocessableException if the ancestry has more than {@value #MAX_NODES}
	 * nodes
	 */
	@Transactional(readOnly = true)
	public Lineage of(UUID modelId) {
		ArtifactDetails model = this.registry.get(ArtifactType.MODEL, modelId);
		Map<UUID, Lineage.Node> nodes = new LinkedHashMap<>();
		List<Lineage.Edge> edges = new ArrayList<>();
		Deque<ArtifactDetails> pending = new ArrayDeque<>();
		nodes.put(modelId, node(model));
		pending.add(model);
		while (!pending.isEmpty()) {
			ArtifactDetails artifact = pending.poll();
			Optional<Composition> composition = Optional.ofNullable(artifact.compositionId())
				.flatMap(this.compositions::findById);
			if (composition.isPresent()) {
				// A materialized model comes from its recipe: route its inputs through
				// it.
				Composition recipe = composition.get();
				edges.add(new Lineage.Edge(recipe.getId(), artifact.id(), "materialized", null));
				if (nodes.putIfAbsent(recipe.getId(), node(recipe)) == null) {
					if (recipe.getBaseModelId() != null) {
						edges.add(new Lineage.Edge(recipe.getBaseModelId(), recipe.getId(), "base", null));
						visit(recipe.getBaseModelId(), nodes, pending);
					}
					for (Composition.Term term : recipe.getTerms()) {
						UUID source = (term.patchId() != null) ? term.patchId() : term.modelId();
						edges.add(new Lineage.Edge(source, recipe.getId(), (term.patchId() != null) ? "patch" : "model",
								term.weight()));
						visit(source, nodes, pending);
					}
				}
				continue;
			}
			boolean baseListed = false;
			for (LineageLink edge : artifact.lineage()) {
				edges.add(new Lineage.Edge(edge.sourceId(), artifact.id(), edge.relation(), null));
				baseListed |= edge.sourceId().equals(artifact.baseModelId());
				visit(edge.sourceId(), nodes, pending);
			}
			if (artifact.baseModelId() != null && !baseListed) {
				// An uploaded patch names the model it was made against.
				edges.add(new Lineage.Edge(artifact.baseModelId(), artifact.id(), "base", null));
				visit(artifact.baseModelId(), nodes, pending);
			}
		}
		return new Lineage(List.copyOf(nodes.values()), List.copyOf(edges));
	}

	private void visit(UUID id, Map<UUID, Lineage.Node> nodes, Deque<ArtifactDetails> pending) {
		if (nodes.containsKey(id)) {
			return;
		}
		if (nodes.size() >= MAX_NODES) {
			throw new UnprocessableException(ProblemKind.LINEAGE_TOO_LARGE,
					"the ancestry has more than " + MAX_NODES + " nodes", Map.of("limit", MAX_NODES));
		}
		// Sources are referenced, so never deleted; one that is neither a model nor a
		// patch is shown as such rather than dropped.
		Optional<ArtifactDetails> artifact = find(ArtifactType.MODEL, id).or(() -> find(ArtifactType.PATCH, id));
		if (artifact.isEmpty()) {
			nodes.put(id, new Lineage.Node(id, "missing", null, null, null, null, null));
			return;
		}
		nodes.put(id, node(artifact.get()));
		pending.add(artifact.get());
	}

	private Optional<ArtifactDetails> find(ArtifactType type, UUID id) {
		return this.registry.exists(type, id) ? Optional.of(this.registry.get(type, id)) : Optional.empty();
	}

	private static Lineage.Node node(ArtifactDetails artifact) {
		String digest = String.join(",", artifact.files().stream().map(StoredFile::digest).toList());
		return new Lineage.Node(artifact.id(), artifact.type().name().toLowerCase(Locale.ROOT), artifact.name(),
				artifact.version(), (artifact.kind() != null) ? artifact.kind().wireName() : null, digest,
				artifact.createdAt());
	}

	private static Lineage.Node node(Composition composition) {
		return new Lineage.Node(composition.getId(), "composition", null, null, composition.getMethod(),
				composition.getRecipeDigest(), composition.getCreatedAt());
	}

}
