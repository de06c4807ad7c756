/**
 * Recipes and their execution: validation and planning against the registry, the shared
 * queue of compositions in PostgreSQL, the chunked executor over the engine, the result
 * cache and materialization, and the derivations (diffs, signatures, LoRA extraction and
 * combination).
 */
@ApplicationModule(allowedDependencies = { "shared", "storage", "engine", "registry", "events" })
package dev.patchbay.composition;

import org.springframework.modulith.ApplicationModule;
