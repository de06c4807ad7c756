package dev.patchbay.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;

/** The golden suite on the DJL backend, on the CPU (libtorch from Maven Central). */
class DjlBackendTests extends TensorBackendContract {

	private static TensorEngine engine;

	@BeforeAll
	static void start() {
		engine = new TensorEngine(
				new EngineProperties(EngineProperties.DeviceChoice.CPU, EngineProperties.BackendChoice.DJL, 1));
	}

	@AfterAll
	static void stop() {
		engine.close();
	}

	@Override
	TensorBackend backend() {
		return engine.backend();
	}

}
