/**
 * What every module speaks: tensor specs and dtypes, digests, and the domain exceptions
 * the API turns into problems. Depends on nothing else of ours.
 */
@ApplicationModule(allowedDependencies = {})
package dev.patchbay.shared;

import org.springframework.modulith.ApplicationModule;
