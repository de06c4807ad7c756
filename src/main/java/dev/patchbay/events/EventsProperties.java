package dev.patchbay.events;

import java.time.Duration;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.hibernate.validator.constraints.time.DurationMax;
import org.hibernate.validator.constraints.time.DurationMin;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Event and webhook settings.
 *
 * @param attempts Maximum number of attempts to deliver one event to one webhook before
 * the delivery is recorded as failed.
 * @param initialBackoff Time to wait after a first failed attempt; it doubles after each
 * further one.
 * @param maxBackoff Maximum time to wait between two attempts.
 * @param timeout Maximum time one attempt may take, connecting included, before it counts
 * as failed.
 * @param concurrency Maximum number of deliveries this instance sends at the same time.
 * @param pollInterval How often an instance looks for deliveries that are due.
 * @param retention How long events and finished deliveries are kept.
 * @param streamPollInterval How often a composition's event stream reads the composition
 * and its events from the database.
 * @param streamKeepAlive Maximum time an event stream stays silent; a comment line is
 * sent after it, so that proxies keep the connection open.
 * @param streamTimeout Maximum lifetime of one event stream connection; a client
 * reconnects with {@code Last-Event-ID} to go on.
 */
@Validated
@ConfigurationProperties("patchbay.events")
public record EventsProperties(@DefaultValue("6") @Min(1) @Max(50) int attempts,
		@NotNull @DurationMin(millis = 10) @DurationMax(hours = 1) @DefaultValue("2s") Duration initialBackoff,
		@NotNull @DurationMin(millis = 10) @DurationMax(days = 1) @DefaultValue("10m") Duration maxBackoff,
		@NotNull @DurationMin(millis = 100) @DurationMax(minutes = 5) @DefaultValue("10s") Duration timeout,
		@DefaultValue("4") @Min(1) @Max(64) int concurrency,
		@NotNull @DurationMin(millis = 50) @DefaultValue("1s") Duration pollInterval,
		@NotNull @DurationMin(minutes = 1) @DefaultValue("7d") Duration retention,
		@NotNull @DurationMin(millis = 50) @DefaultValue("500ms") Duration streamPollInterval,
		@NotNull @DurationMin(millis = 100) @DefaultValue("15s") Duration streamKeepAlive,
		@NotNull @DurationMin(seconds = 1) @DefaultValue("1h") Duration streamTimeout) {
}
