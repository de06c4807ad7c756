package dev.patchbay.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.MalformedModelException;
import ai.djl.Model;
import ai.djl.engine.EngineException;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Block;
import ai.djl.nn.Parameter;
import ai.djl.training.ParameterStore;
import ai.djl.util.Pair;

import dev.patchbay.shared.DType;
import dev.patchbay.shared.InsufficientResourcesException;
import dev.patchbay.shared.ProblemKind;

/**
 * A TorchScript graph loaded through DJL whose parameters can be replaced by name, e.g.
 * with the weights of a registered model or a composition. Swaps and forward passes are
 * serialized on the instance, so concurrent requests are safe.
 */
public final class GraphModel implements AutoCloseable {

	/**
	 * How PyTorch's allocators say they failed: CUDA's caching allocator, and the CPU
	 * allocator (which names itself) for host memory.
	 */
	private static final List<String> OUT_OF_MEMORY = List.of("out of memory", "DefaultCPUAllocator",
			"can't allocate memory");

	private final Model model;

	private final Block block;

	private final Map<String, Parameter> parameters = new LinkedHashMap<>();

	/**
	 * Copies of parameters as they were before the first {@link #applyDelta}, kept on the
	 * model's device, so that each delta applies to the base and never to a previous
	 * delta.
	 */
	private final Map<String, NDArray> bases = new LinkedHashMap<>();

	GraphModel(Model model) {
		this.model = model;
		this.block = model.getBlock();
		// Loaded with trainParam so that parameters are visible; frozen so that no
		// gradients are kept.
		this.block.freezeParameters(true);
		for (Pair<String, Parameter> parameter : this.block.getParameters()) {
			this.parameters.put(parameter.getKey(), parameter.getValue());
		}
	}

	static GraphModel load(Path graph, ai.djl.Device device) throws IOException {
		Model model = Model.newInstance("graph", device, "PyTorch");
		try {
			model.load(graph, null, Map.of("trainParam", "true"));
			return new GraphModel(model);
		}
		catch (MalformedModelException | EngineException ex) {
			model.close();
			throw new IOException("not a loadable TorchScript graph: " + ex.getMessage(), ex);
		}
	}

	/** Parameter names and shapes, in graph order. */
	public Map<String, List<Long>> parameterShapes() {
		Map<String, List<Long>> shapes = new LinkedHashMap<>();
		this.parameters.forEach((name, parameter) -> {
			List<Long> shape = new ArrayList<>();
			for (long dim : parameter.getArray().getShape().getShape()) {
				shape.add(dim);
			}
			shapes.put(name, shape);
		});
		return shapes;
	}

	/** Bytes the parameters occupy. */
	public long parameterBytes() {
		return this.parameters.values()
			.stream()
			.mapToLong((parameter) -> parameter.getArray().size() * parameter.getArray().getDataType().getNumOfBytes())
			.sum();
	}

	/**
	 * Replaces a parameter's values in place.
	 * @throws IllegalArgumentException for an unknown name or a wrong element count
	 */
	public synchronized void setParameter(String name, float[] values) {
		Parameter parameter = this.parameters.get(name);
		if (parameter == null) {
			throw new IllegalArgumentException("the graph has no parameter '" + name + "'");
		}
		NDArray target = parameter.getArray();
		if (target.size() != values.length) {
			throw new IllegalArgumentException(
					"parameter '" + name + "' has " + target.size() + " elements, not " + values.length);
		}
		try (NDManager manager = this.model.getNDManager().newSubManager()) {
			target.set(new NDIndex("..."),
					manager.create(values, target.getShape()).toType(target.getDataType(), false));
		}
	}

	/**
	 * Sets a parameter to its base value plus a delta. The base is the value the
	 * parameter held before the first delta applied to it; it stays resident on the
	 * model's device (the GPU when there is one), so only the delta crosses over.
	 * @throws IllegalArgumentException for an unknown name or a wrong element count
	 */
	public synchronized void applyDelta(String name, float[] delta) {
		Parameter parameter = this.parameters.get(name);
		if (parameter == null) {
			throw new IllegalArgumentException("the graph has no parameter '" + name + "'");
		}
		NDArray target = parameter.getArray();
		if (target.size() != delta.length) {
			throw new IllegalArgumentException(
					"parameter '" + name + "' has " + target.size() + " elements, not " + delta.length);
		}
		// The copy belongs to the parameter's manager, so it is closed with the model.
		NDArray base = this.bases.computeIfAbsent(name, (key) -> target.duplicate());
		try (NDManager manager = this.model.getNDManager().newSubManager()) {
			// The short-lived operand comes first, so the sum belongs to the sub-manager.
			NDArray merged = manager.create(delta, target.getShape()).toType(target.getDataType(), false);
			merged.addi(base);
			target.set(new NDIndex("..."), merged);
		}
	}

	/**
	 * Runs the graph's forward pass on positional inputs.
	 * @throws IllegalArgumentException if the graph rejects the inputs (shape or dtype)
	 * @throws InsufficientResourcesException if host or device memory ran out
	 */
	public synchronized List<HostTensor> forward(List<HostTensor> inputs) {
		try (NDManager manager = this.model.getNDManager().newSubManager()) {
			NDList arguments = new NDList();
			for (HostTensor input : inputs) {
				ByteBuffer direct = ByteBuffer.allocateDirect(input.data().remaining()).order(ByteOrder.nativeOrder());
				direct.put(input.data().duplicate()).flip();
				arguments.add(manager.create(direct, new Shape(input.shape()), dataType(input.dtype())));
			}
			NDList outputs = this.block.forward(new ParameterStore(manager, false), arguments, false);
			List<HostTensor> results = new ArrayList<>();
			for (NDArray output : outputs) {
				ByteBuffer bytes = output.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
				ByteBuffer copy = ByteBuffer.allocate(bytes.remaining()).order(ByteOrder.LITTLE_ENDIAN);
				copy.put(bytes).flip();
				results.add(new HostTensor(dtype(output.getDataType()), output.getShape().getShape(), copy));
			}
			return results;
		}
		catch (EngineException ex) {
			throw failure(ex);
		}
		catch (OutOfMemoryError ex) {
			// Direct buffers for the inputs and outputs are host memory beyond the heap.
			throw outOfMemory(ex);
		}
	}

	/**
	 * What an engine failure of a forward pass means for the caller: memory that ran out
	 * is the server's capacity, not a fault of the inputs, which PyTorch reports alike.
	 */
	static RuntimeException failure(EngineException ex) {
		String message = String.valueOf(ex.getMessage());
		boolean outOfMemory = OUT_OF_MEMORY.stream().anyMatch(message::contains);
		return outOfMemory ? outOfMemory(ex) : new IllegalArgumentException(firstLine(ex.getMessage()), ex);
	}

	private static InsufficientResourcesException outOfMemory(Throwable ex) {
		return new InsufficientResourcesException(ProblemKind.ENGINE_OUT_OF_MEMORY,
				"the engine ran out of memory for this request: " + firstLine(ex.getMessage()), Map.of(), ex);
	}

	private static String firstLine(String message) {
		if (message == null) {
			return "the graph rejected the inputs";
		}
		String trimmed = message.strip();
		int newline = trimmed.indexOf('\n');
		return (newline > 0) ? trimmed.substring(0, newline) : trimmed;
	}

	static DataType dataType(DType dtype) {
		return switch (dtype) {
			case F32 -> DataType.FLOAT32;
			case F64 -> DataType.FLOAT64;
			case F16 -> DataType.FLOAT16;
			case I64 -> DataType.INT64;
			case I32 -> DataType.INT32;
			case I16 -> DataType.INT16;
			case I8 -> DataType.INT8;
			case U8 -> DataType.UINT8;
			case BOOL -> DataType.BOOLEAN;
			case BF16 -> throw new IllegalArgumentException("BF16 must be converted through F32 before DJL");
		};
	}

	static DType dtype(DataType dataType) {
		return switch (dataType) {
			case FLOAT32 -> DType.F32;
			case FLOAT64 -> DType.F64;
			case FLOAT16 -> DType.F16;
			case INT64 -> DType.I64;
			case INT32 -> DType.I32;
			case INT16 -> DType.I16;
			case INT8 -> DType.I8;
			case UINT8 -> DType.U8;
			case BOOLEAN -> DType.BOOL;
			default -> throw new IllegalArgumentException("unsupported output dtype " + dataType);
		};
	}

	@Override
	public void close() {
		this.model.close();
	}

}
