package dev.patchbay.inference;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import org.springframework.stereotype.Service;

import dev.patchbay.engine.HostTensor;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.GraphSignature;
import dev.patchbay.registry.GraphSignature.Declaration;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * KServe v2 (Open Inference Protocol) inference on registered models and compositions:
 * the model's TorchScript graph runs with the model's (or composition's) weights swapped
 * in.
 */
@Service
public class Inference {

	/**
	 * The one version of every model and composition: their weights never change, a new
	 * upload is a new id.
	 */
	public static final String VERSION = "1";

	/** Declared when a model has no signature: one input of unknown shape. */
	private static final List<Declaration> UNDECLARED = List.of(new Declaration("input__0", "FP32", List.of(-1L)));

	private final LoadedModels models;

	private final InferenceProperties properties;

	private final Registry registry;

	Inference(LoadedModels models, InferenceProperties properties, Registry registry) {
		this.registry = registry;
		this.models = models;
		this.properties = properties;
	}

	/**
	 * @throws dev.patchbay.shared.NotFoundException if the id names no model or
	 * composition
	 */
	public ModelMetadata metadata(String id) {
		GraphSignature signature = this.models.signature(target(id));
		if (signature == null) {
			return new ModelMetadata(id, List.of(VERSION), "pytorch_torchscript", UNDECLARED,
					List.of(new Declaration("output__0", "FP32", List.of(-1L))));
		}
		return new ModelMetadata(id, List.of(VERSION), "pytorch_torchscript", signature.inputs(),
				(signature.outputs() != null) ? signature.outputs() : List.of());
	}

	/**
	 * Checks that a model or composition has the version a path names.
	 * @throws dev.patchbay.shared.NotFoundException if the id names no model or
	 * composition, or the version is not one of its versions
	 */
	public void requireVersion(String id, String version) {
		this.models.signature(target(id));
		if (!VERSION.equals(version)) {
			throw new NotFoundException(ProblemKind.MODEL_VERSION_NOT_FOUND,
					"model " + id + " has no version '" + version + "'; its versions are [" + VERSION + "]",
					Map.of("id", id, "version", version));
		}
	}

	/**
	 * Whether inference on the id runs now: a model with a graph, or a computed
	 * composition whose base has one.
	 * @throws dev.patchbay.shared.NotFoundException if the id names no model or
	 * composition
	 */
	public boolean ready(String id) {
		return this.models.ready(target(id));
	}

	/**
	 * The model or composition id that a path's id or model reference ({@code name},
	 * {@code name@alias}, {@code name@3}) names; what names nothing is left for the
	 * lookup to report as unknown.
	 */
	String target(String id) {
		return this.registry.tryResolve(ArtifactType.MODEL, id).map(UUID::toString).orElse(id);
	}

	/**
	 * Reads and runs one inference request, decoding the body as it streams in.
	 * @param body the request body, KServe v2 JSON
	 * @param contentLength the declared body length, or -1
	 * @throws InferenceInputException naming the input at fault for a wrong name,
	 * datatype, shape or value, or the output asked for that the model does not have
	 * @throws dev.patchbay.shared.PayloadTooLargeException beyond
	 * {@code patchbay.inference.max-request-size} or {@code max-request-elements}
	 */
	public InferenceResult infer(String id, InputStream body, long contentLength) {
		long maxBytes = this.properties.maxRequestSize().toBytes();
		if (contentLength > maxBytes) {
			throw InferenceBodyReader.tooLarge(maxBytes);
		}
		// Resolved before the body is read, so that an unknown id costs no decoding.
		String target = target(id);
		this.models.signature(target);
		InferenceBodyReader.Request request = InferenceBodyReader.read(body, maxBytes,
				this.properties.maxRequestElements());
		try (LoadedModels.Lease lease = this.models.lease(target)) {
			List<InferenceBodyReader.Input> ordered = orderBySignature(request.inputs(), lease.signature());
			List<HostTensor> inputs = ordered.stream().map(InferenceBodyReader.Input::tensor).toList();
			List<HostTensor> outputs;
			try {
				outputs = lease.model().forward(inputs);
			}
			catch (IllegalArgumentException ex) {
				throw InferenceInputException.forField("inputs", "the graph rejected them: " + ex.getMessage());
			}
			List<Declaration> names = (lease.signature() != null && lease.signature().outputs() != null)
					? lease.signature().outputs() : List.of();
			List<OutputTensor> results = new ArrayList<>();
			for (int i = 0; i < outputs.size(); i++) {
				results
					.add(TensorCodec.encode((i < names.size()) ? names.get(i).name() : "output__" + i, outputs.get(i)));
			}
			return new InferenceResult(request.id(), selected(results, request.outputs()));
		}
	}

	/**
	 * With a declared signature, inputs are matched by name and checked for datatype and
	 * shape (-1 matches any size); without one, they are used in request order.
	 */
	private static List<InferenceBodyReader.Input> orderBySignature(List<InferenceBodyReader.Input> inputs,
			GraphSignature signature) {
		if (signature == null) {
			return inputs;
		}
		List<InferenceBodyReader.Input> ordered = new ArrayList<>();
		for (Declaration declaration : signature.inputs()) {
			InferenceBodyReader.Input input = inputs.stream()
				.filter((candidate) -> declaration.name().equals(candidate.name()))
				.findFirst()
				.orElseThrow(() -> InferenceInputException.forField("inputs",
						"input '" + declaration.name() + "' is required"));
			boolean datatypeFits = declaration.datatype().equals(input.datatype())
					|| (declaration.datatype().equals("FP32") && "BF16".equals(input.datatype()));
			if (!datatypeFits) {
				throw InferenceInputException.forField("inputs[" + input.name() + "].datatype",
						"is " + input.datatype() + " but the model takes " + declaration.datatype());
			}
			if (!shapeFits(declaration.shape(), input.shape())) {
				throw InferenceInputException.forField("inputs[" + input.name() + "].shape",
						"is " + input.shape() + " but the model takes " + declaration.shape());
			}
			ordered.add(input);
		}
		for (InferenceBodyReader.Input input : inputs) {
			if (signature.inputs().stream().noneMatch((declaration) -> declaration.name().equals(input.name()))) {
				throw InferenceInputException.forField("inputs[" + input.name() + "]", "is not an input of this model");
			}
		}
		return ordered;
	}

	/** The outputs asked for, in the order asked; all of them when none were named. */
	private static List<OutputTensor> selected(List<OutputTensor> outputs, List<String> names) {
		if (names == null) {
			return outputs;
		}
		List<OutputTensor> selected = new ArrayList<>();
		for (String name : names) {
			selected.add(outputs.stream()
				.filter((output) -> output.name().equals(name))
				.findFirst()
				.orElseThrow(() -> InferenceInputException.forField("outputs[" + name + "]",
						"is not an output of this model; its outputs are "
								+ outputs.stream().map(OutputTensor::name).toList())));
		}
		return selected;
	}

	private static boolean shapeFits(List<Long> declared, List<Long> actual) {
		if (actual == null || declared.size() != actual.size()) {
			return false;
		}
		for (int i = 0; i < declared.size(); i++) {
			if (declared.get(i) != -1 && !declared.get(i).equals(actual.get(i))) {
				return false;
			}
		}
		return true;
	}

}
