package dev.patchbay.registry;

import java.time.Instant;
import java.util.UUID;

/**
 * An alias of a name: it points at one version and may be moved.
 *
 * @param alias the alias
 * @param artifactId the version it points at
 * @param version that version's version string
 * @param updatedAt when it was last pointed
 */
public record ArtifactAlias(String alias, UUID artifactId, String version, Instant updatedAt) {
}
