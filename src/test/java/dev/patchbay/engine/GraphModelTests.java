package dev.patchbay.engine;

import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import dev.patchbay.shared.InsufficientResourcesException;
import dev.patchbay.shared.ProblemKind;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

/**
 * How failures PyTorch itself raises are told apart: an allocation the host cannot
 * satisfy is the server's capacity (507), a shape the graph rejects is the client's input
 * (400).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class GraphModelTests {

	private TensorEngine engine;

	@BeforeAll
	void start() {
		// Loads libtorch, as the service does, before DJL's managers are used.
		this.engine = new TensorEngine(
				new EngineProperties(EngineProperties.DeviceChoice.CPU, EngineProperties.BackendChoice.DJL, 1));
	}

	@AfterAll
	void stop() {
		this.engine.close();
	}

	@Test
	void anAllocationTheHostCannotSatisfyIsOutOfMemory() {
		try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
			// 64 TiB of float32: more than any host has, refused at allocation.
			EngineException failure = catchThrowableOfType(EngineException.class,
					() -> manager.zeros(new Shape(1L << 44)));
			RuntimeException translated = GraphModel.failure(failure);
			assertThat(translated).isInstanceOf(InsufficientResourcesException.class);
			assertThat(((InsufficientResourcesException) translated).kind())
				.isEqualTo(ProblemKind.ENGINE_OUT_OF_MEMORY);
		}
	}

	@Test
	void aShapeTheEngineRejectsStaysAnInputError() {
		try (NDManager manager = NDManager.newBaseManager("PyTorch")) {
			NDArray a = manager.ones(new Shape(2, 3));
			EngineException failure = catchThrowableOfType(EngineException.class, () -> a.matMul(a));
			RuntimeException translated = GraphModel.failure(failure);
			assertThat(translated).isInstanceOf(IllegalArgumentException.class);
			assertThat(translated.getMessage()).doesNotContain("\n").isNotBlank();
		}
	}

}
