package dev.patchbay.transform;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import jakarta.validation.ConstraintViolation;
import jakarta.validation.Validator;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.stereotype.Service;

import dev.patchbay.registry.ArtifactConflictException;
import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactFolders;
import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.FolderFile;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.LineageLink;
import dev.patchbay.registry.ModelConfigs;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.StoredFile;
import dev.patchbay.registry.Upload;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.BlobOutput;
import dev.patchbay.storage.BlobPins;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.SafetensorsWriter;
import dev.patchbay.storage.StagedBlob;
import dev.patchbay.transform.Plan.Output;

/**
 * Turns a registered model into a new registered model by a deterministic tensor
 * transform: block removal, weight inheritance, kernel inflation or quantized export.
 * Every name and shape is checked before any compute, with all problems reported at once;
 * then the output is written tensor by tensor (memory bounded by one tensor) and
 * registered as a folder: the source's files with {@code config.json} updated, and
 * lineage to the source.
 */
@Service
public class Transforms {

	// transformers refuses a safetensors file whose metadata names no format it knows.
	static final Map<String, String> METADATA = Map.of("format", "pt");

	// One unsharded file: the output is written as one stream, tensor by tensor.
	static final String WEIGHTS_FILE = "model.safetensors";

	private static final JsonMapper PRETTY = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

	private final Registry registry;

	private final Ingest ingest;

	private final ArtifactFolders folders;

	private final BlobStore blobs;

	private final JsonMapper json;

	private final Validator validator;

	Transforms(Registry registry, Ingest ingest, ArtifactFolders folders, BlobStore blobs, JsonMapper json,
			Validator validator) {
		this.registry = registry;
		this.ingest = ingest;
		this.folders = folders;
		this.blobs = blobs;
		this.json = json;
		this.validator = validator;
	}

	/**
	 * Transforms a model and registers the result.
	 * @throws InvalidInputException naming the invalid field
	 * @throws UnprocessableException naming the blocks or tensors that make the transform
	 * impossible
	 * @throws dev.patchbay.registry.ArtifactNotFoundException if no model has the id
	 * @throws dev.patchbay.registry.ArtifactConflictException if the name and version are
	 * taken
	 */
	public Transformation transform(UUID modelId, Transform transform, Transform.Target result) throws IOException {
		// The source's blobs stay pinned until the result is registered.
		try (BlobPins pins = this.registry.pins()) {
			return transform(modelId, transform, result, pins);
		}
	}

	private Transformation transform(UUID modelId, Transform transform, Transform.Target result, BlobPins pins)
			throws IOException {
		String kind = transform.kind();
		ArtifactContent source = this.registry.content(ArtifactType.MODEL, modelId, pins);
		// The result keeps the source's family and records the source as its base model;
		// the lineage edge below says how it was derived.
		String name = (result.name() != null) ? result.name() : source.details().name() + "-" + kind;
		ArtifactMetadata metadata = checked(new ArtifactMetadata(null, name, result.version(),
				source.details().family(), modelId, result.labels(), null));
		// Checked again when registering; refusing here spares the compute.
		this.registry.requireNameFree(ArtifactType.MODEL, metadata.name(), metadata.version(), "name");
		// Each planner checks everything first and only returns producers, so a refused
		// transform has read no tensor data and written nothing.
		ObjectNode config = sourceConfig(source);
		Sources sources = new Sources(source);
		// The safetensors header needs every spec up front, which is why plans know their
		// output shapes before computing anything.
		Plan plan = plan(transform, sources, config);
		List<TensorSpec> specs = plan.outputs().stream().map(Output::spec).toList();
		try (BlobOutput output = this.blobs.create()) {
			try (SafetensorsWriter writer = new SafetensorsWriter((WritableByteChannel) output, specs, METADATA)) {
				for (Output tensor : plan.outputs()) {
					writer.write(tensor.producer().produce());
				}
			}
			StagedBlob staged = output.finish();
			if (config != null) {
				plan.config().accept(config);
			}
			List<Upload> files = folderFiles(modelId, specs, config);
			// Stored only once every tensor is written: quantize fills in each tensor's
			// SNR while writing, and the stored report must include it.
			Map<String, Object> stored = new LinkedHashMap<>();
			stored.put("transform", plan.report());
			ArtifactDetails details = this.ingest.registerGeneratedModel(metadata, staged, WEIGHTS_FILE, files,
					this.json.writeValueAsString(stored), List.of(new LineageLink(modelId, kind)));
			return new Transformation(details, plan.report());
		}
	}

	private static Plan plan(Transform transform, Sources sources, ObjectNode config) {
		if (transform instanceof Transform.DropBlocks drop) {
			return BlockTransforms.dropBlocks(drop, sources, config);
		}
		if (transform instanceof Transform.Inherit inherit) {
			return BlockTransforms.inherit(inherit, sources, config);
		}
		if (transform instanceof Transform.Inflate inflate) {
			return Inflation.plan(inflate, sources);
		}
		return Quantization.plan((Transform.Quantize) transform, sources, config);
	}

	/** The source's {@code config.json} as an object, or null when it has none. */
	private ObjectNode sourceConfig(ArtifactContent source) throws IOException {
		for (StoredFile file : source.details().files()) {
			if (file.role().equals("file") && file.fileName().equals(ModelConfigs.PATH)) {
				ByteArrayOutputStream bytes = new ByteArrayOutputStream();
				try (FolderFile.Opened opened = this.registry.blob(file)) {
					opened.file().transferTo(bytes, 0, file.sizeBytes());
				}
				// A config.json that is not an object is treated as absent: the
				// transforms that need one then refuse with their own message.
				JsonNode root = this.json.readTree(bytes.toByteArray());
				return (root instanceof ObjectNode object) ? object : null;
			}
		}
		return null;
	}

	/**
	 * The source's folder files (its card left out, for a new one), with the updated
	 * config; each file is read only when it is staged.
	 */
	private List<Upload> folderFiles(UUID modelId, List<TensorSpec> specs, ObjectNode config) {
		List<Upload> files = new ArrayList<>();
		for (FolderFile file : this.folders.companionFiles(modelId, specs)) {
			if (file.path().equals(ModelConfigs.PATH) && config != null) {
				// Indented like the configs transformers writes, so the derived model's
				// file diffs cleanly against its source's.
				byte[] bytes = PRETTY.writeValueAsBytes(config);
				files.add(new Upload("files", file.path(), () -> new ByteArrayInputStream(bytes)));
				continue;
			}
			// The other files are copied unchanged and read lazily, one at a time, when
			// the ingest stages them.
			files.add(new Upload("files", file.path(), () -> {
				ByteArrayOutputStream bytes = new ByteArrayOutputStream();
				try (FolderFile.Opened opened = file.source().open()) {
					opened.file().transferTo(bytes, 0, file.size());
				}
				return new ByteArrayInputStream(bytes.toByteArray());
			}));
		}
		return files;
	}

	/**
	 * Validates the result's metadata as a registration would, so a bad name is refused
	 * before any compute; the first violation by property path is reported, for a stable
	 * message.
	 */
	private ArtifactMetadata checked(ArtifactMetadata metadata) {
		Set<ConstraintViolation<ArtifactMetadata>> violations = this.validator.validate(metadata);
		if (!violations.isEmpty()) {
			ConstraintViolation<ArtifactMetadata> first = violations.stream()
				.min(Comparator.comparing((violation) -> violation.getPropertyPath().toString()))
				.orElseThrow();
			throw invalid(first.getPropertyPath().toString(), first.getMessage());
		}
		return metadata;
	}

	static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_TRANSFORM, field + ": " + reason, Map.of("field", field));
	}

	/**
	 * A transform that cannot apply to this model, naming every tensor (or block) at
	 * fault.
	 */
	static UnprocessableException impossible(String field, List<String> problems, List<String> tensors) {
		Map<String, Object> properties = new LinkedHashMap<>();
		properties.put("field", field);
		properties.put("problems", problems);
		if (!tensors.isEmpty()) {
			properties.put("tensors", tensors);
			properties.put("tensor", tensors.get(0));
		}
		return new UnprocessableException(ProblemKind.IMPOSSIBLE_TRANSFORM, String.join("; ", problems), properties);
	}

	/**
	 * A registered transform result.
	 *
	 * @param model the new model
	 * @param report what the transform did: its parameters, and per kind the blocks kept
	 * or, for quantize, per tensor the SNR and the bytes saved
	 */
	public record Transformation(ArtifactDetails model, Map<String, Object> report) {
	}

}
