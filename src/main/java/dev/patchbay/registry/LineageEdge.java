package dev.patchbay.registry;

import java.util.UUID;

import jakarta.persistence.Embeddable;

/**
 * The row of an {@link Artifact}'s lineage; other modules see it as a
 * {@link LineageLink}.
 */
@Embeddable
record LineageEdge(UUID sourceId, String relation) {

	static LineageEdge of(LineageLink link) {
		return new LineageEdge(link.sourceId(), link.relation());
	}

	LineageLink link() {
		return new LineageLink(this.sourceId, this.relation);
	}

}
