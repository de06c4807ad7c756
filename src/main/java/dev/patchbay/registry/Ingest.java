package dev.patchbay.registry;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.function.Supplier;

import tools.jackson.core.JacksonException;
import tools.jackson.core.StreamReadFeature;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.events.EventType;
import dev.patchbay.events.Events;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.SafetensorsHeader;
import dev.patchbay.storage.SafetensorsReader;
import dev.patchbay.storage.ShardIndex;
import dev.patchbay.storage.StagedBlob;
import dev.patchbay.storage.StorageProperties;
import dev.patchbay.storage.TensorEntry;

/**
 * Registers uploaded models, patches and datasets. Every file is streamed to a staged
 * blob and validated in full before anything becomes visible; only then are the blobs
 * committed and the row inserted. Any failure leaves no row, no blob and no temporary
 * file behind.
 */
@Service
public class Ingest {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	/** The part and file role of a fine-tune's optimizer second moments. */
	public static final String SECOND_MOMENTS = "second_moments";

	private static final JsonMapper FOLDER_JSON = JsonMapper.builder()
		.enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
		.build();

	private final BlobStore blobs;

	private final ArtifactRepository artifacts;

	private final TransactionTemplate transactions;

	private final long maxUploadBytes;

	private final BlobUsage blobUsage;

	private final List<GraphValidator> graphValidators;

	private final RegistryProperties registry;

	private final Events events;

	private final Names names;

	Ingest(BlobStore blobs, ArtifactRepository artifacts, TransactionTemplate transactions, StorageProperties storage,
			RegistryProperties registry, BlobUsage blobUsage, List<GraphValidator> graphValidators, Events events,
			Names names) {
		this.events = events;
		this.names = names;
		this.registry = registry;
		this.graphValidators = graphValidators;
		this.blobs = blobs;
		this.blobUsage = blobUsage;
		this.artifacts = artifacts;
		this.transactions = transactions;
		this.maxUploadBytes = storage.maxUploadSize().toBytes();
	}

	/**
	 * Registers a model from one or more safetensors shards, an index when there are
	 * several, and an optional TorchScript graph.
	 * @throws dev.patchbay.shared.InvalidInputException if any file is malformed
	 * @throws ArtifactConflictException if the name and version are taken
	 */
	public ArtifactDetails registerModel(ArtifactMetadata metadata, List<Upload> weights, Upload index, Upload graph)
			throws IOException {
		return registerModel(metadata, weights, index, graph, List.of());
	}

	/**
	 * Registers a model as a folder: the weights as above, and the folder's other files
	 * (config, tokenizer, card), each under its relative path.
	 * @throws dev.patchbay.shared.InvalidInputException if any file or path is malformed
	 * @throws ArtifactConflictException if the name and version are taken
	 */
	public ArtifactDetails registerModel(ArtifactMetadata metadata, List<Upload> weights, Upload index, Upload graph,
			List<Upload> files) throws IOException {
		return registerModel(metadata, weights, index, graph, files, null);
	}

	/**
	 * Registers a model as above, with the fine-tune's optimizer second moments (Adam's
	 * {@code exp_avg_sq}) for curvature-aware merging, when given.
	 * @throws dev.patchbay.shared.InvalidInputException if any file or path is malformed,
	 * or the second moments do not match the weights
	 */
	public ArtifactDetails registerModel(ArtifactMetadata metadata, List<Upload> weights, Upload index, Upload graph,
			List<Upload> files, Upload secondMoments) throws IOException {
		if (metadata.kind() != null) {
			throw UploadRejectedException.forField("metadata.kind", "is only for patches");
		}
		if (metadata.derivedFrom() != null
				&& this.artifacts.findByIdAndType(metadata.derivedFrom(), ArtifactType.MODEL).isEmpty()) {
			throw ArtifactNotFoundException.forId(ArtifactType.MODEL, metadata.derivedFrom());
		}
		try (Staging staging = new Staging()) {
			List<TensorLocation> tensors = stageWeights(staging, weights, index);
			if (graph != null) {
				checkGraph(staging.add("graph", graph), tensors.stream().map(TensorLocation::spec).toList());
			}
			stageSecondMoments(staging, secondMoments, tensors);
			stageFolderFiles(staging, files, Set.of());
			Artifact artifact = new Artifact(ArtifactType.MODEL, null, metadata.name(), metadata.version(),
					metadata.family(), metadata.labels());
			artifact.setDescription(metadata.description());
			if (metadata.derivedFrom() != null) {
				// Fine-tuned outside Patchbay: the parent is named, not computed.
				artifact.setDerivation(List.of(new LineageLink(metadata.derivedFrom(), "finetune")), null);
			}
			if (metadata.signature() != null) {
				artifact.setConfig(JSON.writeValueAsString(Map.of("signature", metadata.signature())));
			}
			return save(artifact, staging, tensors, "metadata.name");
		}
	}

	/**
	 * Registers a patch: safetensors weights for diff and rws, adapter config and model
	 * for lora.
	 * @throws dev.patchbay.shared.InvalidInputException if a file is malformed or the
	 * adapter config contradicts its tensors
	 * @throws ArtifactNotFoundException if baseModelId names no model
	 */
	public ArtifactDetails registerPatch(ArtifactMetadata metadata, List<Upload> weights, Upload adapterConfig,
			Upload adapterModel) throws IOException {
		return registerPatch(metadata, weights, adapterConfig, adapterModel, List.of());
	}

	/**
	 * Registers a patch with the other files of its folder (a PEFT adapter's card, say),
	 * each under its relative path.
	 * @throws dev.patchbay.shared.InvalidInputException if a file or path is malformed
	 */
	public ArtifactDetails registerPatch(ArtifactMetadata metadata, List<Upload> weights, Upload adapterConfig,
			Upload adapterModel, List<Upload> files) throws IOException {
		return registerPatch(metadata, weights, adapterConfig, adapterModel, files, null);
	}

	/**
	 * Registers a patch as above; a diff patch may carry its fine-tune's optimizer second
	 * moments for curvature-aware merging.
	 * @throws dev.patchbay.shared.InvalidInputException if a file or path is malformed,
	 * or the second moments do not match the weights or the kind
	 */
	public ArtifactDetails registerPatch(ArtifactMetadata metadata, List<Upload> weights, Upload adapterConfig,
			Upload adapterModel, List<Upload> files, Upload secondMoments) throws IOException {
		if (metadata.derivedFrom() != null) {
			throw UploadRejectedException.forField("metadata.derivedFrom", "is only for models");
		}
		if (metadata.kind() == null) {
			throw UploadRejectedException.forField("metadata.kind", "is required: one of diff, rws, lora");
		}
		if (metadata.baseModelId() != null
				&& this.artifacts.findByIdAndType(metadata.baseModelId(), ArtifactType.MODEL).isEmpty()) {
			throw ArtifactNotFoundException.forId(ArtifactType.MODEL, metadata.baseModelId());
		}
		try (Staging staging = new Staging()) {
			Artifact artifact = new Artifact(ArtifactType.PATCH, metadata.kind(), metadata.name(), metadata.version(),
					metadata.family(), metadata.labels());
			artifact.setDescription(metadata.description());
			artifact.setBaseModelId(metadata.baseModelId());
			List<TensorLocation> tensors;
			if (metadata.kind() == PatchKind.LORA) {
				rejectPresent("weights", !weights.isEmpty(), "is not used for lora patches; send adapter_model");
				StagedFile config = staging.add("adapter_config", required("adapter_config", adapterConfig));
				StagedFile model = staging.add("adapter_model", required("adapter_model", adapterModel));
				tensors = locate(model.header(), 1);
				byte[] configBytes = readConfig(config);
				LoraAdapter.parse(configBytes, tensors.stream().map(TensorLocation::spec).toList(),
						this.registry.maxAdapterRank());
				artifact.setConfig(new String(configBytes, StandardCharsets.UTF_8));
			}
			else {
				rejectPresent("adapter_config", adapterConfig != null, "is only for lora patches");
				rejectPresent("adapter_model", adapterModel != null, "is only for lora patches");
				if (weights.size() != 1) {
					throw UploadRejectedException.forField("weights", "expected exactly one safetensors file");
				}
				tensors = locate(staging.add("weights", weights.get(0)).header(), 0);
			}
			rejectPresent(SECOND_MOMENTS, secondMoments != null && metadata.kind() != PatchKind.DIFF,
					"is only for models and diff patches");
			stageSecondMoments(staging, secondMoments, tensors);
			stageFolderFiles(staging, files, Set.of(ArtifactFolders.ADAPTER_MODEL));
			return save(artifact, staging, tensors, "metadata.name");
		}
	}

	/**
	 * Registers a dataset: one safetensors file of named tensors.
	 */
	public ArtifactDetails registerDataset(ArtifactMetadata metadata, Upload data) throws IOException {
		try (Staging staging = new Staging()) {
			StagedFile file = staging.add("data", required("data", data));
			Artifact artifact = new Artifact(ArtifactType.DATASET, null, metadata.name(), metadata.version(),
					metadata.family(), metadata.labels());
			artifact.setDescription(metadata.description());
			return save(artifact, staging, locate(file.header(), 0), "metadata.name");
		}
	}

	/**
	 * Registers an artifact from a safetensors file the server produced, such as a
	 * derived diff or signature. The file is validated like an upload and committed here.
	 * @param config kind-specific settings JSON, or null
	 */
	public ArtifactDetails registerGenerated(ArtifactType type, ArtifactMetadata metadata, StagedBlob file,
			String fileName, String config, List<LineageLink> lineage) throws IOException {
		try (Staging staging = new Staging()) {
			StagedFile staged = staging.add("weights", "weights", fileName, file);
			Artifact artifact = new Artifact(type, metadata.kind(), metadata.name(), metadata.version(),
					metadata.family(), metadata.labels());
			artifact.setDescription(metadata.description());
			artifact.setBaseModelId(metadata.baseModelId());
			artifact.setConfig(config);
			artifact.setDerivation(lineage, null);
			return save(artifact, staging, locate(staged.header(), 0), "name");
		}
	}

	/**
	 * Registers a model from a safetensors file the server produced (a transform of
	 * another model) with its folder's other files, each under its relative path; the
	 * file and the folder files are validated like an upload.
	 * @param config settings JSON (the transform and its report), or null
	 * @throws ArtifactConflictException if the name and version are taken
	 */
	public ArtifactDetails registerGeneratedModel(ArtifactMetadata metadata, StagedBlob weights, String fileName,
			List<Upload> files, String config, List<LineageLink> lineage) throws IOException {
		try (Staging staging = new Staging()) {
			StagedFile staged = staging.add("weights", "weights", fileName, weights);
			stageFolderFiles(staging, files, Set.of());
			Artifact artifact = new Artifact(ArtifactType.MODEL, null, metadata.name(), metadata.version(),
					metadata.family(), metadata.labels());
			artifact.setDescription(metadata.description());
			artifact.setBaseModelId(metadata.baseModelId());
			artifact.setConfig(config);
			artifact.setDerivation(lineage, null);
			return save(artifact, staging, locate(staged.header(), 0), "name");
		}
	}

	/**
	 * Registers a model whose weights are a local file, such as a composition's result in
	 * the cache, storing the file as a blob unless identical bytes already are.
	 * @param content the safetensors file
	 * @param digest its sha256, already known
	 * @param sameArchitecture whether it has its base's tensors (then it keeps the base's
	 * graph and signature); a frankenmerge of layer ranges does not
	 */
	public ArtifactDetails registerStoredModel(ArtifactMetadata metadata, Path content, String digest, String fileName,
			List<LineageLink> lineage, UUID compositionId, boolean sameArchitecture) throws IOException {
		SafetensorsHeader header = SafetensorsReader.readHeader(content, fileName);
		this.artifacts.requireNameFree(ArtifactType.MODEL, metadata.name(), metadata.version(), "name");
		Artifact artifact = new Artifact(ArtifactType.MODEL, null, metadata.name(), metadata.version(),
				metadata.family(), metadata.labels());
		artifact.setDescription(metadata.description());
		artifact.setBaseModelId(metadata.baseModelId());
		artifact.setDerivation(lineage, compositionId);
		boolean[] created = { false };
		// Copied and hashed before the lock, as that is the slow part; only the rename
		// (or the S3 upload) happens under it.
		try (StagedBlob staged = this.blobs.exists(digest) ? null : this.blobs.stage(content, digest)) {
			return unchecked(() -> this.transactions.execute((status) -> {
				// A racing delete of another artifact with these bytes either went
				// first (the blob is committed again here) or waits until this row is
				// visible.
				this.blobUsage.lock(List.of(digest));
				if (!this.blobs.exists(digest)) {
					if (staged != null) {
						created[0] = commit(staged);
					}
					else {
						try (StagedBlob late = stage(content, digest)) {
							created[0] = commit(late);
						}
					}
				}
				List<ArtifactFile> files = new ArrayList<>();
				files.add(new ArtifactFile("weights", fileName, digest, header.fileSize()));
				if (metadata.baseModelId() != null && sameArchitecture) {
					// A derived model keeps its base's graph and signature: same
					// architecture, new weights.
					Artifact base = this.artifacts.findByIdAndType(metadata.baseModelId(), ArtifactType.MODEL)
						.orElseThrow(() -> ArtifactNotFoundException.forId(ArtifactType.MODEL, metadata.baseModelId()));
					base.getFiles().stream().filter((file) -> file.role().equals("graph")).forEach(files::add);
					artifact.setConfig(base.getConfig());
				}
				artifact.setContent(files, locate(header, 0));
				artifact.setVersionNumber(this.names.nextNumber(artifact.getType(), artifact.getName()));
				return published(ArtifactDetails.of(this.artifacts.saveAndFlush(artifact)));
			}));
		}
		catch (IOException | RuntimeException ex) {
			if (created[0]) {
				this.blobUsage.deleteIfUnused(digest);
			}
			throw ex;
		}
	}

	/** Stages a local file under the lock, when its blob went after the first look. */
	private StagedBlob stage(Path content, String digest) {
		try {
			return this.blobs.stage(content, digest);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/**
	 * Attaches (or replaces) a model's TorchScript graph after checking that the model's
	 * tensors fill every graph parameter.
	 * @throws GraphMismatchException naming every parameter at fault
	 */
	public ArtifactDetails attachGraph(UUID modelId, Upload graph) throws IOException {
		List<TensorSpec> tensors = this.transactions
			.execute((status) -> this.artifacts.findByIdAndType(modelId, ArtifactType.MODEL)
				.orElseThrow(() -> ArtifactNotFoundException.forId(ArtifactType.MODEL, modelId))
				.getTensors()
				.stream()
				.map(TensorLocation::spec)
				.toList());
		try (Staging staging = new Staging()) {
			StagedFile file = staging.add("graph", required("graph", graph));
			checkGraph(file, tensors);
			ArtifactFile attached = new ArtifactFile("graph", file.filename(), file.blob().digest(),
					file.blob().size());
			boolean[] created = { false };
			try {
				String replaced = unchecked(() -> this.transactions.execute((status) -> {
					this.blobUsage.lock(List.of(attached.digest()));
					created[0] = commit(file.blob());
					return this.artifacts.findById(modelId)
						.orElseThrow(() -> ArtifactNotFoundException.forId(ArtifactType.MODEL, modelId))
						.replaceGraph(attached);
				}));
				if (replaced != null && !replaced.equals(attached.digest())) {
					this.blobUsage.deleteIfUnused(replaced);
				}
			}
			catch (RuntimeException ex) {
				if (created[0]) {
					this.blobUsage.deleteIfUnused(attached.digest());
				}
				throw ex;
			}
			return this.transactions
				.execute((status) -> ArtifactDetails.of(this.artifacts.findById(modelId).orElseThrow()));
		}
	}

	private void checkGraph(StagedFile file, List<TensorSpec> tensors) throws IOException {
		checkZip(file);
		List<GraphValidator.GraphProblem> problems = new ArrayList<>();
		for (GraphValidator validator : this.graphValidators) {
			try {
				problems.addAll(validator.check(file.blob().path(), tensors));
			}
			catch (IOException ex) {
				throw UploadRejectedException.forField("graph", ex.getMessage());
			}
		}
		if (!problems.isEmpty()) {
			throw GraphMismatchException.of(problems);
		}
	}

	/**
	 * Stages the optimizer second moments, checking them against the weights: every
	 * floating-point weight tensor needs one entry, keyed by its name (or
	 * {@code <name>.exp_avg_sq}, or with {@code weight} replaced by
	 * {@code weight.exp_avg_sq}, as ota-merge reads them), of its shape, or, for a
	 * matrix, rank-1 factors {@code <name>.exp_avg_sq_rows} [rows] and
	 * {@code <name>.exp_avg_sq_cols} [columns] (the row and column sums of v), all
	 * float32 and non-negative finite by construction of Adam.
	 */
	private void stageSecondMoments(Staging staging, Upload upload, List<TensorLocation> tensors) throws IOException {
		if (upload == null) {
			return;
		}
		StagedFile file = staging.add(SECOND_MOMENTS, upload);
		Map<String, TensorSpec> moments = new HashMap<>();
		for (TensorEntry entry : file.header().tensors()) {
			if (entry.spec().dtype() != dev.patchbay.shared.DType.F32) {
				throw UploadRejectedException.forField(SECOND_MOMENTS,
						"tensor '" + entry.spec().name() + "' is " + entry.spec().dtype() + "; float32 is required");
			}
			moments.put(entry.spec().name(), entry.spec());
		}
		Set<String> used = new HashSet<>();
		for (TensorLocation tensor : tensors) {
			if (!tensor.spec().dtype().isFloatingPoint()) {
				continue;
			}
			SecondMoments.Entry entry = SecondMoments.find(tensor.spec(), moments);
			if (entry == null) {
				throw UploadRejectedException.forField(SECOND_MOMENTS,
						"has no entry for tensor '" + tensor.name() + "' (as '" + tensor.name()
								+ "', or rank-1 factors '" + tensor.name() + "'" + SecondMoments.ROWS + " and "
								+ SecondMoments.COLUMNS + ")");
			}
			if (entry.problem() != null) {
				throw UploadRejectedException.forField(SECOND_MOMENTS, entry.problem());
			}
			used.addAll(entry.names());
		}
		for (String name : moments.keySet()) {
			if (!used.contains(name)) {
				throw UploadRejectedException.forField(SECOND_MOMENTS,
						"tensor '" + name + "' matches no weight tensor");
			}
		}
	}

	/**
	 * Stages a folder's other files after every weight file, so that no tensor's file
	 * ordinal moves. Each is bounded in size, and JSON files must parse.
	 */
	private void stageFolderFiles(Staging staging, List<Upload> files, Set<String> reserved) throws IOException {
		if (files.size() > this.registry.maxFolderFiles()) {
			throw UploadRejectedException.forField("files",
					"has " + files.size() + " files; at most " + this.registry.maxFolderFiles() + " are accepted");
		}
		Set<String> paths = new HashSet<>();
		for (Upload upload : files) {
			String path = upload.filename();
			String problem = upload.part().equals(path) ? FolderPaths.problem(null) : FolderPaths.problem(path);
			if (problem == null && reserved.contains(path)) {
				problem = "path '" + path + "' is sent as its own part";
			}
			if (problem == null && !paths.add(path)) {
				problem = "path '" + path + "' is sent twice";
			}
			if (problem != null) {
				throw UploadRejectedException.forField("files", problem);
			}
			// Beyond the limit, a 413 as for any other part.
			StagedFile file = staging.add("file", upload, this.registry.maxFolderFileSize().toBytes());
			if (path.endsWith(".json")) {
				try {
					FOLDER_JSON.readTree(file.blob().path().toFile());
				}
				catch (JacksonException ex) {
					throw UploadRejectedException.forField("files",
							"file '" + path + "' is not valid JSON: " + ex.getOriginalMessage());
				}
			}
		}
	}

	private List<TensorLocation> stageWeights(Staging staging, List<Upload> weights, Upload index) throws IOException {
		if (weights.isEmpty()) {
			throw UploadRejectedException.forField("weights", "at least one safetensors file is required");
		}
		Map<String, Integer> ordinalByFile = new HashMap<>();
		List<TensorLocation> tensors = new ArrayList<>();
		for (Upload upload : weights) {
			StagedFile file = staging.add("weights", upload);
			if (ordinalByFile.put(upload.filename(), file.ordinal()) != null) {
				throw UploadRejectedException.forField("weights",
						"file name '" + upload.filename() + "' is sent twice");
			}
			tensors.addAll(locate(file.header(), file.ordinal()));
		}
		Set<String> names = new HashSet<>();
		for (TensorLocation tensor : tensors) {
			if (!names.add(tensor.name())) {
				throw UploadRejectedException.forField("weights",
						"tensor '" + tensor.name() + "' is in more than one shard");
			}
		}
		if (index == null) {
			if (weights.size() > 1) {
				throw UploadRejectedException.forField("index", "is required when weights has several shards");
			}
			return tensors;
		}
		StagedFile indexFile = staging.add("index", index);
		ShardIndex shardIndex = ShardIndex.parse(readSmall(indexFile, ShardIndex.MAX_BYTES), index.filename());
		List<TensorLocation> ordered = new ArrayList<>();
		for (TensorLocation tensor : tensors) {
			String filename = staging.files.get(tensor.fileOrdinal()).filename();
			String expected = shardIndex.weightMap().get(tensor.name());
			if (!filename.equals(expected)) {
				throw UploadRejectedException.forField("index",
						"maps tensor '" + tensor.name() + "' to "
								+ ((expected == null) ? "no shard" : "'" + expected + "'") + " but it is in '"
								+ filename + "'");
			}
			ordered.add(tensor);
		}
		for (String name : shardIndex.weightMap().keySet()) {
			if (!names.contains(name)) {
				throw UploadRejectedException.forField("index", "names tensor '" + name + "' that no shard holds");
			}
		}
		return ordered;
	}

	private static List<TensorLocation> locate(SafetensorsHeader header, int fileOrdinal) {
		List<TensorLocation> tensors = new ArrayList<>();
		for (TensorEntry entry : header.tensors()) {
			tensors.add(TensorLocation.of(entry.spec(), fileOrdinal, entry.offset()));
		}
		return tensors;
	}

	/**
	 * @param nameField the request field that named the artifact, reported when the name
	 * is taken
	 */
	private ArtifactDetails save(Artifact artifact, Staging staging, List<TensorLocation> tensors, String nameField)
			throws IOException {
		this.artifacts.requireNameFree(artifact.getType(), artifact.getName(), artifact.getVersion(), nameField);
		List<ArtifactFile> files = new ArrayList<>();
		List<String> created = new ArrayList<>();
		try {
			return unchecked(() -> this.transactions.execute((status) -> {
				// Held from the blobs' commit until the row that uses them is visible.
				this.blobUsage.lock(staging.files.stream().map((file) -> file.blob().digest()).toList());
				for (StagedFile file : staging.files) {
					if (commit(file.blob())) {
						created.add(file.blob().digest());
					}
					files.add(new ArtifactFile(file.role(), file.filename(), file.blob().digest(), file.blob().size()));
				}
				artifact.setContent(files, tensors);
				artifact.setVersionNumber(this.names.nextNumber(artifact.getType(), artifact.getName()));
				return published(ArtifactDetails.of(this.artifacts.saveAndFlush(artifact)));
			}));
		}
		catch (IOException | RuntimeException ex) {
			for (String digest : created) {
				this.blobUsage.deleteIfUnused(digest);
			}
			if (ex instanceof DataIntegrityViolationException) {
				// A concurrent upload took the name and version first.
				this.artifacts.requireNameFree(artifact.getType(), artifact.getName(), artifact.getVersion(),
						nameField);
				throw ArtifactConflictException.alreadyExists(artifact.getType(), artifact.getName(),
						artifact.getVersion(), nameField, null);
			}
			throw ex;
		}
	}

	/**
	 * Publishes {@code artifact.created} in the transaction that inserts the row: the
	 * event exists exactly when the artifact does. A materialized result also goes to its
	 * composition's event stream.
	 */
	private ArtifactDetails published(ArtifactDetails artifact) {
		this.events.publish(EventType.ARTIFACT_CREATED, ArtifactEvents.created(artifact), artifact.compositionId());
		return artifact;
	}

	private boolean commit(StagedBlob blob) {
		try {
			return this.blobs.commit(blob);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	/** Runs work that wraps its I/O failures, and throws them as they were. */
	private static <T> T unchecked(Supplier<T> work) throws IOException {
		try {
			return work.get();
		}
		catch (UncheckedIOException ex) {
			throw ex.getCause();
		}
	}

	private static Upload required(String part, Upload upload) {
		if (upload == null) {
			throw UploadRejectedException.forField(part, "is required");
		}
		return upload;
	}

	private static void rejectPresent(String part, boolean present, String reason) {
		if (present) {
			throw UploadRejectedException.forField(part, reason);
		}
	}

	private static byte[] readConfig(StagedFile file) throws IOException {
		return readSmall(file, 1 << 20);
	}

	private static byte[] readSmall(StagedFile file, int maxBytes) throws IOException {
		if (file.blob().size() > maxBytes) {
			throw UploadRejectedException.forField(file.part(), "is larger than " + maxBytes + " bytes");
		}
		return Files.readAllBytes(file.blob().path());
	}

	/**
	 * TorchScript archives are zip files; anything else (a raw pickle, say) is refused
	 * unread.
	 */
	private static void checkZip(StagedFile file) throws IOException {
		byte[] magic = new byte[4];
		try (InputStream in = Files.newInputStream(file.blob().path())) {
			if (in.readNBytes(magic, 0, 4) != 4 || magic[0] != 'P' || magic[1] != 'K' || magic[2] != 3
					|| magic[3] != 4) {
				throw UploadRejectedException.forField("graph", "is not a TorchScript archive (zip)");
			}
		}
	}

	private record StagedFile(String role, int ordinal, String part, String filename, StagedBlob blob,
			SafetensorsHeader header) {
	}

	/**
	 * The files of one upload, staged; closing deletes every temporary file that was not
	 * committed.
	 */
	private final class Staging implements AutoCloseable {

		private final List<StagedFile> files = new ArrayList<>();

		StagedFile add(String role, Upload upload) throws IOException {
			return add(role, upload, Ingest.this.maxUploadBytes);
		}

		StagedFile add(String role, Upload upload, long maxBytes) throws IOException {
			try (InputStream in = upload.content().getInputStream()) {
				return add(role, upload.part(), upload.filename(),
						Ingest.this.blobs.stage(in, Math.min(maxBytes, Ingest.this.maxUploadBytes)));
			}
		}

		StagedFile add(String role, String part, String filename, StagedBlob blob) throws IOException {
			int ordinal = this.files.size();
			// Tracked before validation, so that close() deletes it when validation
			// fails.
			this.files.add(new StagedFile(role, ordinal, part, filename, blob, null));
			SafetensorsHeader header = isSafetensors(role) ? SafetensorsReader.readHeader(blob.path(), filename) : null;
			StagedFile file = new StagedFile(role, ordinal, part, filename, blob, header);
			this.files.set(ordinal, file);
			return file;
		}

		private static boolean isSafetensors(String role) {
			return role.equals("weights") || role.equals("adapter_model") || role.equals("data")
					|| role.equals(SECOND_MOMENTS);
		}

		@Override
		public void close() {
			this.files.forEach((file) -> file.blob().close());
		}

	}

}
