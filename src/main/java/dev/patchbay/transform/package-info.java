/**
 * Structural transforms of registered models into new ones (block removal, weight
 * inheritance, kernel inflation, quantized export), each a model with lineage to its
 * source; the tensor arithmetic is the engine's.
 */
@ApplicationModule(allowedDependencies = { "shared", "storage", "engine", "registry" })
package dev.patchbay.transform;

import org.springframework.modulith.ApplicationModule;
