package dev.patchbay.registry;

import java.util.Map;

/**
 * A change to an artifact's mutable fields, as a JSON merge patch (RFC 7396) reads.
 *
 * @param labels labels to set, a null value removing that label; null changes none
 * @param descriptionGiven whether the description changes
 * @param description the new description, null to clear it
 */
public record ArtifactUpdate(Map<String, String> labels, boolean descriptionGiven, String description) {
}
