package dev.patchbay.registry;

import java.time.Instant;

/**
 * One recorded change to an artifact after its registration.
 *
 * @param changedAt when
 * @param role the role of the key that made it, if the request had one
 * @param requestId the request's id, as in the logs
 * @param changes JSON: per field changed, its value before and after
 */
public record ArtifactChange(Instant changedAt, String role, String requestId, String changes) {
}
