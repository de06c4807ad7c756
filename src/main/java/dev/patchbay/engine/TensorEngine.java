package dev.patchbay.engine;

import java.io.IOException;
import java.nio.file.Path;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.stereotype.Component;

/**
 * The tensor engine: DJL's PyTorch engine on the GPU when there is one and configuration
 * allows, else the CPU; the backend that composes on it; and the pool of threads that
 * compute chunks. Callers pass and receive buffers and float arrays: NDArrays never leave
 * this module.
 */
@Component
public class TensorEngine implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(TensorEngine.class);

	private final NDManager root;

	private final Device device;

	private final TensorBackend backend;

	private final int threads;

	private final ExecutorService pool;

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
		this.backend = switch (properties.backend()) {
			case JAVA -> new JavaBackend();
			case DJL -> new DjlBackend(this.root);
			// Measured on the CPU (BENCHMARKS.md, "Backends"): the Java loops beat
			// libtorch at every operation a composition needs. Java cannot run on a GPU.
			case AUTO -> this.device.isGpu() ? new DjlBackend(this.root) : new JavaBackend();
		};
		this.threads = properties.resolvedThreads();
		AtomicInteger created = new AtomicInteger();
		this.pool = Executors.newFixedThreadPool(this.threads, (task) -> {
			Thread thread = new Thread(task, "engine-" + created.incrementAndGet());
			thread.setDaemon(true);
			return thread;
		});
		logger.info("Tensor engine: {} {} on {} (GPUs visible: {}), {} backend, {} threads", engine.getEngineName(),
				engine.getVersion(), this.device, gpus, this.backend.name(), this.threads);
	}

	/** The backend compositions run on. */
	public TensorBackend backend() {
		return this.backend;
	}

	/**
	 * The pool that computes chunks, {@link #threads()} wide. Tasks on it must not wait
	 * for other tasks on it.
	 */
	public ExecutorService pool() {
		return this.pool;
	}

	public int threads() {
		return this.threads;
	}

	/** The device the engine computes on, e.g. {@code cpu()} or {@code gpu(0)}. */
	public String device() {
		return this.device.toString();
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
		this.pool.shutdownNow();
		this.root.close();
	}

}
