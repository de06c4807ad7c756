package dev.patchbay.composition;

import java.nio.file.Path;
import java.time.Duration;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.hibernate.validator.constraints.time.DurationMin;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Composition settings.
 *
 * @param workers Number of compositions computed at the same time.
 * @param chunkElements Maximum number of elements of one tensor processed at once per
 * term; bounds memory.
 * @param progressInterval Minimum time between progress updates written to the database.
 * @param leaseTimeout How long a composition's lease lasts without renewal before another
 * instance may take the composition over; leases are renewed every third of it.
 * @param pollInterval How often an idle instance looks for compositions to claim.
 * @param cacheDirectory Directory that holds the local cache of composition results.
 * @param cacheSize Maximum size of the local cache of composition results; the least
 * recently used are evicted beyond it, except those being written or read.
 * @param maxTerms Maximum number of terms (patches) in one composition recipe.
 * @param shardSize Maximum size of the tensor data in one weight shard of a model or
 * composition downloaded as a folder, as {@code save_pretrained}'s
 * {@code max_shard_size}.
 * @param maxQueued Maximum number of compositions waiting for a worker, across every
 * instance; beyond it a new recipe is refused with 503 and {@code Retry-After}.
 */
@Validated
@ConfigurationProperties("patchbay.composition")
public record CompositionProperties(@DefaultValue("1") @Min(1) @Max(64) int workers,
		@DefaultValue("1048576") @Min(1024) int chunkElements,
		@NotNull @DefaultValue("500ms") Duration progressInterval,
		@NotNull @DurationMin(seconds = 1) @DefaultValue("30s") Duration leaseTimeout,
		@NotNull @DurationMin(millis = 50) @DefaultValue("2s") Duration pollInterval, @NotNull Path cacheDirectory,
		@NotNull @DefaultValue("20GB") DataSize cacheSize, @DefaultValue("64") @Min(1) int maxTerms,
		@NotNull @DefaultValue("5GB") DataSize shardSize, @DefaultValue("1000") @Min(1) int maxQueued) {
}
