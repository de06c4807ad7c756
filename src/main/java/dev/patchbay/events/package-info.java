/**
 * What happened, for platforms to follow: events written to an outbox in the transaction
 * of the change they report, delivered to webhooks (signed, retried, recorded) by a
 * worker on any replica, and read back as a composition's event stream. Knows no artifact
 * or composition type; the modules that publish describe their events in plain data.
 */
@ApplicationModule(allowedDependencies = "shared")
package dev.patchbay.events;

import org.springframework.modulith.ApplicationModule;
