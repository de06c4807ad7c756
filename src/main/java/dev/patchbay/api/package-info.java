/**
 * The HTTP edge: controllers, wire records, the key filter, downloads and the one problem
 * handler. Every other module is below it and none depends on it.
 */
@ApplicationModule(allowedDependencies = { "shared", "storage", "registry", "security", "composition", "inference",
		"events", "transform" })
package dev.patchbay.api;

import org.springframework.modulith.ApplicationModule;
