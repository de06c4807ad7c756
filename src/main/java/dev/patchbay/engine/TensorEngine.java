package dev.patchbay.engine;

import java.io.IOException;
import java.nio.ByteOrder;
import java.nio.file.Path;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * Matrix math on DJL's PyTorch engine, on the GPU when there is one and configuration
 * allows, else the CPU. The only class that touches DJL: callers pass and receive plain
 * float arrays, and every call works in its own NDManager that is closed before it
 * returns.
 */
@Component
public class TensorEngine implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(TensorEngine.class);

	private final NDManager root;

	private final Device device;

	public TensorEngine(EngineProperties properties) {
		// libtorch ships in a Maven jar; DJL must never try to download it.
		System.setProperty("ai.djl.offline", System.getProperty("ai.djl.offline", "true"));
		Engine engine = Engine.getEngine("PyTorch");
		int gpus = engine.getGpuCount();
		this.device = switch (properties.device()) {
			case CPU -> Device.cpu();
			case GPU -> {
				if (gpus == 0) {
					throw new IllegalStateException(
							"patchbay.engine.device=gpu but DJL sees no GPU (is libcudart on PYTORCH_LIBRARY_PATH?)");
				}
				yield Device.gpu();
			}
			case AUTO -> (gpus > 0) ? Device.gpu() : Device.cpu();
		};
		this.root = NDManager.newBaseManager(this.device);
		logger.info("Tensor engine: {} {} on {} (GPUs visible: {})", engine.getEngineName(), engine.getVersion(),
				this.device, gpus);
	}

	/** The device the engine computes on, e.g. {@code cpu()} or {@code gpu(0)}. */
	public String device() {
		return this.device.toString();
	}

	/**
	 * Computes {@code scale · left · right} for row-major matrices into {@code out}.
	 * @param left [m, k]
	 * @param right [k, n]
	 * @param out receives [m, n], row-major
	 */
	public void scaledMatmul(float[] left, int m, int k, float[] right, int n, float scale, float[] out) {
		try (NDManager manager = this.root.newSubManager()) {
			NDArray product = manager.create(left, new Shape(m, k)).matMul(manager.create(right, new Shape(k, n)));
			product.muli(scale);
			// Copied straight from native memory into the caller's buffer: no array per
			// call.
			product.toByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer().get(out, 0, m * n);
		}
	}

	/**
	 * Loads a TorchScript graph on the engine's device.
	 * @throws IOException if the file is not a loadable TorchScript archive
	 */
	public GraphModel loadGraph(Path graph) throws IOException {
		return GraphModel.load(graph, this.device);
	}

	@Override
	public void close() {
		this.root.close();
	}

}
