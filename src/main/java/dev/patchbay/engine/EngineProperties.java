package dev.patchbay.engine;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Tensor engine settings.
 *
 * @param device Device for tensor math: auto (a GPU when DJL sees one, else the CPU), cpu
 * or gpu.
 * @param backend Backend for composition math: auto (the faster one for the device, java
 * on the CPU and djl on a GPU), java or djl.
 * @param threads Number of threads that compute chunks of compositions; 0 means one per
 * available processor.
 */
@Validated
@ConfigurationProperties("patchbay.engine")
public record EngineProperties(@NotNull @DefaultValue("auto") DeviceChoice device,
		@NotNull @DefaultValue("auto") BackendChoice backend, @DefaultValue("0") @Min(0) @Max(256) int threads) {

	/** Which device the engine may use. */
	public enum DeviceChoice {

		AUTO, CPU, GPU

	}

	/** Which backend composes. */
	public enum BackendChoice {

		AUTO, JAVA, DJL

	}

	/** The thread count to use, with 0 resolved to the available processors. */
	public int resolvedThreads() {
		return (this.threads > 0) ? this.threads : Runtime.getRuntime().availableProcessors();
	}

}
