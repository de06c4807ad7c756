package dev.patchbay.engine;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class TensorEngineTests {

	@Test
	void autoComposesInJavaOnTheCpuWithOneThreadPerProcessor() {
		try (TensorEngine engine = new TensorEngine(
				new EngineProperties(EngineProperties.DeviceChoice.CPU, EngineProperties.BackendChoice.AUTO, 0))) {
			assertThat(engine.device()).isEqualTo("cpu()");
			assertThat(engine.backend().name()).isEqualTo("java");
			assertThat(engine.threads()).isEqualTo(Runtime.getRuntime().availableProcessors());
		}
	}

	@Test
	void theDjlBackendCanBeChosen() {
		try (TensorEngine engine = new TensorEngine(
				new EngineProperties(EngineProperties.DeviceChoice.CPU, EngineProperties.BackendChoice.DJL, 3))) {
			assertThat(engine.backend().name()).isEqualTo("djl");
			assertThat(engine.threads()).isEqualTo(3);
		}
	}

}
