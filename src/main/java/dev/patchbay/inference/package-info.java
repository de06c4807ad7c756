/**
 * Running models: TorchScript graphs loaded with registered or composed weights, KServe
 * v2 tensors in and out, and evaluations over datasets.
 */
@ApplicationModule(allowedDependencies = { "shared", "storage", "engine", "registry", "composition" })
package dev.patchbay.inference;

import org.springframework.modulith.ApplicationModule;
