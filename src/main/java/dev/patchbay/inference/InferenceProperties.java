package dev.patchbay.inference;

import java.time.Duration;

import jakarta.validation.constraints.NotNull;

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
 */
@Validated
@ConfigurationProperties("patchbay.inference")
public record InferenceProperties(@NotNull @DefaultValue("2GB") DataSize cacheSize,
		@NotNull @DefaultValue("10m") Duration compositionWait, @DefaultValue("256") int evaluationBatchSize) {
}
