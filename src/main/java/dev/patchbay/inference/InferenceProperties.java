package dev.patchbay.inference;

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
 * Inference settings.
 *
 * @param cacheSize Maximum size of the loaded models kept in memory (graph plus
 * parameters); the least recently used are evicted beyond it.
 * @param compositionWait Maximum time an inference request waits for a composition that
 * is still being computed.
 * @param evaluationBatchSize Default number of dataset rows per forward pass in
 * evaluations.
 * @param maxEvaluationBatchSize Maximum number of dataset rows per forward pass that an
 * evaluation request may ask for.
 * @param maxRequestSize Maximum size of a KServe v2 inference request body.
 * @param maxRequestElements Maximum number of tensor elements in one inference request,
 * all inputs together, and in one evaluation batch.
 * @param maxQueuedEvaluations Maximum number of asynchronous evaluations waiting for the
 * evaluation worker; beyond it a request is refused with 503 and {@code Retry-After}.
 * @param maxSweepPoints Maximum number of weight combinations (grid points) one strength
 * sweep may evaluate.
 * @param leaseTimeout How long a sweep's or evaluation's lease lasts without renewal
 * before another instance takes it over; leases are renewed every third of it.
 */
@Validated
@ConfigurationProperties("patchbay.inference")
record InferenceProperties(@NotNull @DefaultValue("2GB") DataSize cacheSize,
		@NotNull @DefaultValue("10m") Duration compositionWait, @DefaultValue("256") @Min(1) int evaluationBatchSize,
		@DefaultValue("4096") @Min(1) int maxEvaluationBatchSize,
		@NotNull @DefaultValue("32MB") DataSize maxRequestSize,
		@DefaultValue("8388608") @Min(1) @Max(Integer.MAX_VALUE - 8) long maxRequestElements,
		@DefaultValue("16") @Min(1) @Max(10000) int maxQueuedEvaluations,
		@DefaultValue("256") @Min(1) @Max(1_000_000) int maxSweepPoints,
		@NotNull @DurationMin(seconds = 1) @DefaultValue("30s") Duration leaseTimeout) {
}
