package dev.patchbay.security;

import jakarta.validation.constraints.Size;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.validation.annotation.Validated;

/**
 * API key settings.
 *
 * @param adminKey Admin key accepted in addition to the stored keys, for bootstrapping a
 * deployment; when unset on the embedded database, one is generated at first start and
 * printed once.
 */
@Validated
@ConfigurationProperties("patchbay.security")
record SecurityProperties(@Size(min = 16, max = 200) String adminKey) {
}
