package dev.patchbay.engine;

import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.validation.annotation.Validated;

/**
 * Tensor engine settings.
 *
 * @param device Device for tensor math: auto (a GPU when DJL sees one, else the CPU), cpu
 * or gpu.
 */
@Validated
@ConfigurationProperties("patchbay.engine")
public record EngineProperties(@NotNull @DefaultValue("auto") DeviceChoice device) {

	/**
	 * Which device the engine may use.
	 */
	public enum DeviceChoice {

		AUTO, CPU, GPU

	}

}
