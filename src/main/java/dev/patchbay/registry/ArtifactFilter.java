package dev.patchbay.registry;

/**
 * Optional list filters; null means "any".
 *
 * @param name exact name
 * @param family exact family
 * @param label {@code key} (the label is present) or {@code key=value}
 */
public record ArtifactFilter(String name, String family, String label) {
}
