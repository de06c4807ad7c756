package dev.patchbay.api;

import java.time.Duration;

import jakarta.validation.constraints.NotNull;
import org.hibernate.validator.constraints.time.DurationMin;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * HTTP API settings.
 *
 * @param downloadIdleTimeout Maximum time a response may wait for a client that has
 * stopped reading before the connection is closed; as Tomcat's connection timeout it also
 * bounds an idle connection.
 */
@Validated
@ConfigurationProperties("patchbay.api")
record ApiProperties(@NotNull @DurationMin(millis = 100) @DefaultValue("60s") Duration downloadIdleTimeout) {
}
