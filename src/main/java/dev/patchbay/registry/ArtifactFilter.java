package dev.patchbay.registry;

import java.util.List;

/**
 * Optional list filters; null (or empty) means "any". All given filters must hold.
 *
 * @param name exact name
 * @param family exact family
 * @param labels each {@code key} (the label is present) or {@code key=value}; all must
 * match
 * @param namePrefix the name starts with it (case-sensitive)
 * @param nameContains the name contains it, ignoring case
 */
public record ArtifactFilter(String name, String family, List<String> labels, String namePrefix, String nameContains) {

	public ArtifactFilter {
		labels = (labels != null) ? List.copyOf(labels) : List.of();
	}

	/** An exact name, family and at most one label. */
	public ArtifactFilter(String name, String family, String label) {
		this(name, family, (label != null) ? List.of(label) : List.of(), null, null);
	}

}
