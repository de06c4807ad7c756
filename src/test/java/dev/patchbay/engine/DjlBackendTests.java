package dev.patchbay.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.TestInstance;

/** The golden suite on the DJL backend, on the CPU (libtorch from Maven Central). */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class DjlBackendTests extends TensorBackendContract {

	private TensorEngine engine;

	/** The engine the suite runs on. */
	EngineProperties properties() {
		return new EngineProperties(EngineProperties.DeviceChoice.CPU, EngineProperties.BackendChoice.DJL, 1);
	}

	@BeforeAll
	void start() {
		this.engine = new TensorEngine(properties());
	}

	@AfterAll
	void stop() {
		this.engine.close();
	}

	@Override
	TensorBackend backend() {
		return this.engine.backend();
	}

}
