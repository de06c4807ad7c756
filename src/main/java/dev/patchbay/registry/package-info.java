/**
 * Models, patches and datasets: their rows in PostgreSQL, their files as blobs, the
 * validation of what is uploaded, folders and lineage. Other modules read artifacts
 * through {@link dev.patchbay.registry.Registry} and create them through
 * {@link dev.patchbay.registry.Ingest}.
 */
@ApplicationModule(allowedDependencies = { "shared", "storage", "events" })
package dev.patchbay.registry;

import org.springframework.modulith.ApplicationModule;
