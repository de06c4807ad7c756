/**
 * API keys and their roles. Uses the registry only to learn whether the database is the
 * embedded one (a local run, where a first key may be bootstrapped); the filter that
 * checks keys on requests lives in {@code api}.
 */
@ApplicationModule(allowedDependencies = { "shared", "registry" })
package dev.patchbay.security;

import org.springframework.modulith.ApplicationModule;
