package dev.patchbay.engine;

import ai.djl.engine.Engine;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.condition.EnabledIf;

/**
 * The golden suite on the DJL backend on a GPU; skipped where DJL sees none, as on this
 * project's CI machine.
 */
@Tag("gpu")
@EnabledIf("dev.patchbay.engine.DjlGpuBackendTests#gpuPresent")
class DjlGpuBackendTests extends DjlBackendTests {

	static boolean gpuPresent() {
		System.setProperty("ai.djl.offline", "true");
		return Engine.getEngine("PyTorch").getGpuCount() > 0;
	}

	@Override
	EngineProperties properties() {
		return new EngineProperties(EngineProperties.DeviceChoice.GPU, EngineProperties.BackendChoice.AUTO, 1);
	}

}
