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

	static final Map<String, String> METADATA = Map.of("format", "pt");

	static final String WEIGHTS_FILE = "model.safetensors";

	private static final JsonMapper PRETTY = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

	/** The fields each kind takes, beyond name, version and labels. */
	private static final Map<String, Set<String>> FIELDS = Map.of("drop_blocks", Set.of("blocks"), "inherit",
			Set.of("blocks", "every", "config"), "inflate", Set.of("include", "depth", "method"), "quantize",
			Set.of("bits", "granularity", "groupSize", "symmetric", "scheme"));

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
	public Transformation transform(UUID modelId, TransformRequest request) throws IOException {
		// The source's blobs stay pinned until the result is registered.
		try (BlobPins pins = this.registry.pins()) {
			return transform(modelId, request, pins);
		}
	}

	private Transformation transform(UUID modelId, TransformRequest request, BlobPins pins) throws IOException {
		if (request == null || request.kind() == null || !FIELDS.containsKey(request.kind())) {
			throw invalid("kind", "must be one of drop_blocks, inherit, inflate, quantize");
		}
		String kind = request.kind();
		rejectForeignFields(request);
		ArtifactContent source = this.registry.content(ArtifactType.MODEL, modelId, pins);
		String name = (request.name() != null) ? request.name() : source.details().name() + "-" + kind;
		ArtifactMetadata metadata = checked(new ArtifactMetadata(null, name, request.version(),
				source.details().family(), modelId, request.labels(), null));
		// Checked again when registering; refusing here spares the compute.
		this.registry.requireNameFree(ArtifactType.MODEL, metadata.name(), metadata.version(), "name");
		ObjectNode config = sourceConfig(source);
		Sources sources = new Sources(source);
		Plan plan = switch (kind) {
			case "drop_blocks" -> BlockTransforms.dropBlocks(request, sources, config);
			case "inherit" -> BlockTransforms.inherit(request, sources, config);
			case "inflate" -> Inflation.plan(request, sources);
			default -> Quantization.plan(request, sources, config);
		};
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
			Map<String, Object> stored = new LinkedHashMap<>();
			stored.put("transform", plan.report());
			ArtifactDetails details = this.ingest.registerGeneratedModel(metadata, staged, WEIGHTS_FILE, files,
					this.json.writeValueAsString(stored), List.of(new LineageLink(modelId, kind)));
			return new Transformation(details, plan.report());
		}
	}

	private static void rejectForeignFields(TransformRequest request) {
		Map<String, Object> given = new LinkedHashMap<>();
		given.put("blocks", request.blocks());
		given.put("every", request.every());
		given.put("config", request.config());
		given.put("include", request.include());
		given.put("depth", request.depth());
		given.put("method", request.method());
		given.put("bits", request.bits());
		given.put("granularity", request.granularity());
		given.put("groupSize", request.groupSize());
		given.put("symmetric", request.symmetric());
		given.put("scheme", request.scheme());
		Set<String> allowed = FIELDS.get(request.kind());
		given.forEach((field, value) -> {
			if (value != null && !allowed.contains(field)) {
				throw invalid(field, "is not used by kind " + request.kind());
			}
		});
	}

	/** The source's {@code config.json} as an object, or null when it has none. */
	private ObjectNode sourceConfig(ArtifactContent source) throws IOException {
		for (StoredFile file : source.details().files()) {
			if (file.role().equals("file") && file.fileName().equals(ModelConfigs.PATH)) {
				ByteArrayOutputStream bytes = new ByteArrayOutputStream();
				try (FolderFile.Opened opened = this.registry.blob(file)) {
					opened.file().transferTo(bytes, 0, file.sizeBytes());
				}
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
				byte[] bytes = PRETTY.writeValueAsBytes(config);
				files.add(new Upload("files", file.path(), () -> new ByteArrayInputStream(bytes)));
				continue;
			}
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
		return new InvalidInputException("invalid-transform", "Invalid transform request", field + ": " + reason,
				Map.of("field", field));
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
		return new UnprocessableException("impossible-transform", "The transform does not fit the model",
				String.join("; ", problems), properties);
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
