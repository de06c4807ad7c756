package dev.patchbay.registry;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Function;
import java.util.stream.Collectors;

import jakarta.persistence.criteria.MapJoin;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.Pageable;
import org.springframework.data.jpa.domain.Specification;
import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Propagation;
import org.springframework.transaction.annotation.Transactional;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.registry.CompatibilityReport.Problem;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.BlobNotFoundException;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.SafetensorsWriter;
import dev.patchbay.storage.SegmentedFile;

/**
 * Reads and removes registry entries and answers questions about them: listings, tensor
 * manifests, weight downloads and patch compatibility.
 */
@Service
@Transactional(readOnly = true)
public class Registry {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private final ArtifactRepository artifacts;

	private final BlobStore blobs;

	private final List<ArtifactReferences> references;

	private final BlobUsage blobUsage;

	private final TransactionTemplate transactions;

	Registry(ArtifactRepository artifacts, BlobStore blobs, List<ArtifactReferences> references, BlobUsage blobUsage,
			TransactionTemplate transactions) {
		this.transactions = transactions;
		this.artifacts = artifacts;
		this.blobs = blobs;
		this.references = references;
		this.blobUsage = blobUsage;
	}

	/**
	 * @throws ArtifactNotFoundException if no artifact of that type has the id
	 */
	public ArtifactDetails get(ArtifactType type, UUID id) {
		return ArtifactDetails.of(find(type, id));
	}

	public boolean exists(ArtifactType type, UUID id) {
		return this.artifacts.findByIdAndType(id, type).isPresent();
	}

	/**
	 * Whether an artifact of the type has the name and version, so that work that
	 * registers one can refuse before it computes.
	 */
	public boolean nameTaken(ArtifactType type, String name, String version) {
		return this.artifacts.existsWithNameAndVersion(type, name, version);
	}

	public Page<ArtifactDetails> list(ArtifactType type, ArtifactFilter filter, Pageable pageable) {
		Specification<Artifact> spec = (root, query, cb) -> cb.equal(root.get("type"), type);
		if (filter.name() != null) {
			spec = spec.and((root, query, cb) -> cb.equal(root.get("name"), filter.name()));
		}
		if (filter.family() != null) {
			spec = spec.and((root, query, cb) -> cb.equal(root.get("family"), filter.family()));
		}
		if (filter.label() != null) {
			String[] keyValue = filter.label().split("=", 2);
			spec = spec.and((root, query, cb) -> {
				MapJoin<Artifact, String, String> labels = root.joinMap("labels");
				return (keyValue.length == 1) ? cb.equal(labels.key(), keyValue[0])
						: cb.and(cb.equal(labels.key(), keyValue[0]), cb.equal(labels.value(), keyValue[1]));
			});
		}
		return this.artifacts.findAll(spec, pageable).map(ArtifactDetails::of);
	}

	/**
	 * An artifact's tensors with the local files that hold them, for computing on. With
	 * S3 this downloads every file not cached locally.
	 * @throws ArtifactNotFoundException if no artifact of that type has the id
	 */
	public ArtifactContent content(ArtifactType type, UUID id) {
		return local(manifest(type, id));
	}

	/**
	 * An artifact's manifest, adapter, config and file digests, read from the database
	 * alone: no blob is opened or downloaded. Enough to validate a recipe against.
	 * @throws ArtifactNotFoundException if no artifact of that type has the id
	 */
	public ArtifactContent manifest(ArtifactType type, UUID id) {
		Artifact artifact = find(type, id);
		List<TensorLocation> tensors = List.copyOf(artifact.getTensors());
		LoraAdapter adapter = (artifact.getPatchKind() == PatchKind.LORA)
				? LoraAdapter.parse(artifact.getConfig().getBytes(StandardCharsets.UTF_8),
						tensors.stream().map(TensorLocation::spec).toList())
				: null;
		return new ArtifactContent(ArtifactDetails.of(artifact), tensors, null, adapter, artifact.getConfig());
	}

	/**
	 * Resolves a manifest's files to local paths, outside any transaction since with S3
	 * it may download them.
	 * @throws BlobNotFoundException if a file's blob is missing
	 */
	@Transactional(propagation = Propagation.NOT_SUPPORTED)
	public ArtifactContent local(ArtifactContent manifest) {
		return manifest
			.withFiles(manifest.details().files().stream().map((file) -> this.blobs.localPath(file.digest())).toList());
	}

	/**
	 * The tensor manifest of a model, patch or dataset, in file order.
	 */
	public List<TensorSpec> tensors(ArtifactType type, UUID id) {
		return find(type, id).getTensors().stream().map(TensorLocation::spec).toList();
	}

	/**
	 * A model's weights as one safetensors file. A single-file model is its stored blob,
	 * byte for byte; a sharded model gets a new header followed by each shard's tensor
	 * bytes.
	 */
	public Weights weights(UUID modelId) {
		Artifact model = find(ArtifactType.MODEL, modelId);
		List<ArtifactFile> shards = model.getFiles().stream().filter((file) -> file.role().equals("weights")).toList();
		if (shards.size() == 1) {
			ArtifactFile file = shards.get(0);
			return new Weights(file.digest(), new SegmentedFile(
					List.of(new SegmentedFile.FileRegion(this.blobs.localPath(file.digest()), 0, file.sizeBytes()))));
		}
		List<TensorSpec> specs = model.getTensors().stream().map(TensorLocation::spec).toList();
		List<SegmentedFile.Segment> segments = new ArrayList<>();
		// As save_pretrained writes it: without it, transformers refuses to load the
		// file.
		segments.add(new SegmentedFile.Bytes(SafetensorsWriter.header(specs, Map.of("format", "pt"))));
		for (TensorLocation tensor : model.getTensors()) {
			ArtifactFile file = model.getFiles().get(tensor.fileOrdinal());
			segments.add(new SegmentedFile.FileRegion(this.blobs.localPath(file.digest()), tensor.dataOffset(),
					tensor.spec().byteSize()));
		}
		String digests = shards.stream().map(ArtifactFile::digest).collect(Collectors.joining(","));
		return new Weights(UUID.nameUUIDFromBytes(digests.getBytes(StandardCharsets.US_ASCII)).toString(),
				new SegmentedFile(segments));
	}

	/**
	 * One stored file of an artifact, ready to stream byte for byte.
	 * @throws BlobNotFoundException if its blob is missing
	 */
	public SegmentedFile blob(ArtifactFile file) {
		return new SegmentedFile(
				List.of(new SegmentedFile.FileRegion(this.blobs.localPath(file.digest()), 0, file.sizeBytes())));
	}

	/**
	 * A model's weights ready to stream.
	 *
	 * @param etag a strong validator: changes whenever the bytes would
	 * @param file the bytes
	 */
	public record Weights(String etag, SegmentedFile file) {
	}

	/**
	 * Deletes an artifact and the blobs no other artifact shares.
	 * @throws ArtifactConflictException while another artifact references it
	 */
	@Transactional(propagation = Propagation.NOT_SUPPORTED)
	public void delete(ArtifactType type, UUID id) throws IOException {
		Set<String> digests = this.transactions.execute((status) -> {
			// The row lock waits for a composition being recorded that references the
			// artifact (its insert holds a key-share lock on this row), so the check
			// below sees it; and it makes such an insert wait until the delete is done.
			Artifact artifact = this.artifacts.lockByIdAndType(id, type)
				.orElseThrow(() -> ArtifactNotFoundException.forId(type, id));
			List<String> dependents = new ArrayList<>(this.artifacts.namesDerivedFrom(id));
			this.references.forEach((module) -> dependents.addAll(module.referencesTo(id)));
			if (!dependents.isEmpty()) {
				throw ArtifactConflictException.stillReferenced(type, dependents);
			}
			Set<String> files = new HashSet<>();
			artifact.getFiles().forEach((file) -> files.add(file.digest()));
			this.artifacts.delete(artifact);
			try {
				this.artifacts.flush();
			}
			catch (DataIntegrityViolationException ex) {
				// Referenced by a row that the checks above could not see yet.
				throw ArtifactConflictException.stillReferenced(type, List.of("a composition being created"));
			}
			return files;
		});
		// Blobs go only once the row is gone for everyone: a crash in between leaves an
		// unused blob, never a row without its bytes.
		for (String digest : digests) {
			this.blobUsage.deleteIfUnused(digest);
		}
	}

	/**
	 * Deletes a blob that another module stopped using, unless an artifact or module
	 * still uses it.
	 */
	public void releaseBlob(String digest) throws IOException {
		this.blobUsage.deleteIfUnused(digest);
	}

	/**
	 * Checks every tensor of a patch against a model and reports all problems at once.
	 */
	public CompatibilityReport compatibility(UUID patchId, UUID modelId) {
		return compatibility(manifest(ArtifactType.PATCH, patchId), manifest(ArtifactType.MODEL, modelId));
	}

	/**
	 * Checks every tensor of a loaded patch against a loaded model, for callers that
	 * already hold both (no further queries, no second parse of the adapter).
	 */
	public CompatibilityReport compatibility(ArtifactContent patch, ArtifactContent model) {
		Map<String, TensorSpec> modelTensors = model.tensors()
			.stream()
			.map(TensorLocation::spec)
			.collect(Collectors.toMap(TensorSpec::name, Function.identity()));
		List<Problem> problems = new ArrayList<>();
		LoraAdapter adapter = patch.adapter();
		if (adapter != null) {
			for (LoraAdapter.LoraModule module : adapter.modules()) {
				checkShape(modelTensors, module.targetTensor(), module.baseShape(adapter.config().fanInFanOut()), false,
						problems);
				if (module.bias() != null) {
					checkShape(modelTensors, module.module() + ".bias", module.bias().shape(), false, problems);
				}
			}
			adapter.modulesToSave()
				.forEach((saved) -> checkShape(modelTensors, saved.target(), saved.tensor().shape(), false, problems));
		}
		else {
			logicalTensors(patch).forEach((tensor) -> checkShape(modelTensors, tensor.name(), tensor.shape(),
					tensor.isVocabularyTable(), problems));
		}
		return CompatibilityReport.of(problems);
	}

	/**
	 * The tensors a patch changes. A quantized signature stores codes, scales and minima,
	 * and records the shapes they decode to in its config.
	 */
	private List<TensorSpec> logicalTensors(ArtifactContent patch) {
		List<TensorSpec> stored = patch.tensors().stream().map(TensorLocation::spec).toList();
		if (patch.details().kind() != PatchKind.RWS || patch.config() == null) {
			return stored;
		}
		JsonNode shapes = JSON.readTree(patch.config()).path("tensors");
		if (!shapes.isObject()) {
			return stored;
		}
		List<TensorSpec> logical = new ArrayList<>();
		shapes.properties()
			.forEach((entry) -> logical.add(new TensorSpec(entry.getKey(), DType.F32,
					entry.getValue().path("shape").valueStream().map(JsonNode::asLong).toList())));
		return logical;
	}

	private static void checkShape(Map<String, TensorSpec> model, String name, List<Long> expected,
			boolean rowsMayDiffer, List<Problem> problems) {
		TensorSpec actual = model.get(name);
		if (actual == null) {
			problems.add(new Problem(name, "the model has no tensor '" + name + "'", expected, null));
			return;
		}
		boolean matches = rowsMayDiffer && !expected.isEmpty() && expected.size() == actual.shape().size()
				? expected.subList(1, expected.size()).equals(actual.shape().subList(1, expected.size()))
				: expected.equals(actual.shape());
		if (!matches) {
			problems.add(new Problem(name,
					"tensor '" + name + "' has shape " + actual.shape() + " but the patch needs " + expected, expected,
					actual.shape()));
		}
	}

	private Artifact find(ArtifactType type, UUID id) {
		return this.artifacts.findByIdAndType(id, type).orElseThrow(() -> ArtifactNotFoundException.forId(type, id));
	}

}
