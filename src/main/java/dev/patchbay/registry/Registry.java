package dev.patchbay.registry;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
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

import dev.patchbay.events.EventType;
import dev.patchbay.events.Events;
import dev.patchbay.registry.CompatibilityReport.Problem;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.BlobNotFoundException;
import dev.patchbay.storage.BlobPins;
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

	private final Events events;

	private final Names names;

	Registry(ArtifactRepository artifacts, BlobStore blobs, List<ArtifactReferences> references, BlobUsage blobUsage,
			TransactionTemplate transactions, Events events, Names names) {
		this.events = events;
		this.names = names;
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
		return withAliases(find(type, id));
	}

	public boolean exists(ArtifactType type, UUID id) {
		return this.artifacts.findByIdAndType(id, type).isPresent();
	}

	/**
	 * Refuses a name and version an artifact of the type already has, naming it, so that
	 * work that registers one can refuse before it computes.
	 * @throws ArtifactConflictException with the existing artifact's id
	 */
	public void requireNameFree(ArtifactType type, String name, String version, String field) {
		this.artifacts.requireNameFree(type, name, version, field);
	}

	public Page<ArtifactDetails> list(ArtifactType type, ArtifactFilter filter, Pageable pageable) {
		Specification<Artifact> spec = (root, query, cb) -> cb.equal(root.get("type"), type);
		if (filter.name() != null) {
			spec = spec.and((root, query, cb) -> cb.equal(root.get("name"), filter.name()));
		}
		if (filter.namePrefix() != null) {
			spec = spec
				.and((root, query, cb) -> cb.like(root.get("name"), likeEscaped(filter.namePrefix()) + "%", '\\'));
		}
		if (filter.nameContains() != null) {
			String pattern = "%" + likeEscaped(filter.nameContains().toLowerCase(Locale.ROOT)) + "%";
			spec = spec.and((root, query, cb) -> cb.like(cb.lower(root.get("name")), pattern, '\\'));
		}
		if (filter.family() != null) {
			spec = spec.and((root, query, cb) -> cb.equal(root.get("family"), filter.family()));
		}
		for (String label : filter.labels()) {
			String[] keyValue = label.split("=", 2);
			// One join per label: a label key is unique per artifact, so no row repeats.
			spec = spec.and((root, query, cb) -> {
				MapJoin<Artifact, String, String> labels = root.joinMap("labels");
				return (keyValue.length == 1) ? cb.equal(labels.key(), keyValue[0])
						: cb.and(cb.equal(labels.key(), keyValue[0]), cb.equal(labels.value(), keyValue[1]));
			});
		}
		Page<Artifact> page = this.artifacts.findAll(spec, pageable);
		Map<UUID, List<String>> aliases = this.names
			.aliasesOf(page.getContent().stream().map(Artifact::getId).toList());
		return page.map((artifact) -> ArtifactDetails.of(artifact, aliases.getOrDefault(artifact.getId(), List.of())));
	}

	private static String likeEscaped(String text) {
		return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_");
	}

	/**
	 * The one place a reference becomes an artifact id: an id; {@code name} or
	 * {@code name@latest} for the name's latest version (highest version number);
	 * {@code name@v} for the version whose version string is {@code v}, else the version
	 * numbered {@code v}; else {@code name@alias}.
	 * @param field the request field that holds the reference, named in the problem
	 * @return the artifact's id; an id is returned as given, for the caller's own lookup
	 * to report as before
	 * @throws ArtifactNotFoundException if nothing of the type answers the reference
	 */
	public UUID resolve(ArtifactType type, String reference, String field) {
		UUID id = uuid(reference);
		if (id != null) {
			return id;
		}
		if (reference == null || reference.isBlank()) {
			throw ArtifactNotFoundException.forReference(type, String.valueOf(reference), field);
		}
		int at = reference.lastIndexOf('@');
		String name = (at >= 0) ? reference.substring(0, at) : reference;
		String selector = (at >= 0) ? reference.substring(at + 1) : LATEST;
		Optional<UUID> found;
		if (selector.equals(LATEST)) {
			found = this.artifacts.findFirstByTypeAndNameOrderByVersionNumberDesc(type, name).map(Artifact::getId);
		}
		else {
			found = this.artifacts.findByTypeAndNameAndVersion(type, name, selector)
				.or(() -> number(selector)
					.flatMap((number) -> this.artifacts.findByTypeAndNameAndVersionNumber(type, name, number)))
				.map(Artifact::getId)
				.or(() -> this.names.alias(type, name, selector));
		}
		return found.orElseThrow(() -> ArtifactNotFoundException.forReference(type, reference, field));
	}

	/** Whether a reference names an artifact of the type; never throws for a bad one. */
	public Optional<UUID> tryResolve(ArtifactType type, String reference) {
		try {
			UUID id = resolve(type, reference, null);
			return exists(type, id) ? Optional.of(id) : Optional.empty();
		}
		catch (ArtifactNotFoundException ex) {
			return Optional.empty();
		}
	}

	/** The selector of a name's latest version; no alias may be called so. */
	public static final String LATEST = "latest";

	private static final java.util.regex.Pattern ALIAS = java.util.regex.Pattern
		.compile("[A-Za-z][A-Za-z0-9_.-]{0,63}");

	private static Optional<Integer> number(String selector) {
		if (!selector.matches("[1-9][0-9]{0,8}")) {
			return Optional.empty();
		}
		return Optional.of(Integer.parseInt(selector));
	}

	private static UUID uuid(String text) {
		if (text == null || text.length() != 36) {
			return null;
		}
		try {
			return UUID.fromString(text);
		}
		catch (IllegalArgumentException ex) {
			return null;
		}
	}

	/**
	 * Changes an artifact's labels and description and records what changed.
	 * @throws ArtifactNotFoundException if no artifact of that type has the id
	 * @throws InvalidInputException naming a label or the description at fault
	 */
	@Transactional
	public ArtifactDetails update(ArtifactType type, UUID id, ArtifactUpdate update) {
		Artifact artifact = this.artifacts.lockByIdAndType(id, type)
			.orElseThrow(() -> ArtifactNotFoundException.forId(type, id));
		Map<String, Object> changes = new LinkedHashMap<>();
		if (update.labels() != null) {
			Map<String, String> labels = new LinkedHashMap<>(artifact.getLabels());
			update.labels().forEach((key, value) -> {
				checkLabel(key, value);
				if (value == null) {
					labels.remove(key);
				}
				else {
					labels.put(key, value);
				}
			});
			if (!labels.equals(artifact.getLabels())) {
				changes.put("labels", beforeAfter(new TreeMap<>(artifact.getLabels()), new TreeMap<>(labels)));
				artifact.setLabels(labels);
			}
		}
		if (update.descriptionGiven() && !Objects.equals(update.description(), artifact.getDescription())) {
			if (update.description() != null && update.description().length() > MAX_DESCRIPTION) {
				throw invalid("description", "must be at most " + MAX_DESCRIPTION + " characters");
			}
			if (update.description() != null && update.description().indexOf('\0') >= 0) {
				throw invalid("description", "must not contain NUL");
			}
			changes.put("description", beforeAfter(artifact.getDescription(), update.description()));
			artifact.setDescription(update.description());
		}
		this.artifacts.flush();
		if (!changes.isEmpty()) {
			this.names.recordChange(id, JSON.writeValueAsString(changes));
		}
		return withAliases(artifact);
	}

	private static final int MAX_DESCRIPTION = 10000;

	private static void checkLabel(String key, String value) {
		if (key.isEmpty() || key.length() > 100 || key.contains("=") || key.chars().anyMatch(Character::isISOControl)) {
			throw invalid("labels." + key, "a label key has 1 to 100 characters, no '=' nor control characters");
		}
		if (value != null && (value.length() > 200 || value.chars().anyMatch(Character::isISOControl))) {
			throw invalid("labels." + key, "a label value has at most 200 characters, no control characters");
		}
	}

	private static Map<String, Object> beforeAfter(Object before, Object after) {
		Map<String, Object> change = new LinkedHashMap<>();
		change.put("before", before);
		change.put("after", after);
		return change;
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_FIELD, field + ": " + reason, Map.of("field", field));
	}

	/**
	 * An artifact's recorded changes, oldest first.
	 * @throws ArtifactNotFoundException if no artifact of that type has the id
	 */
	public List<ArtifactChange> changes(ArtifactType type, UUID id) {
		find(type, id);
		return this.names.changes(id);
	}

	/**
	 * The aliases of a name.
	 * @throws ArtifactNotFoundException if the name has no artifact of the type
	 */
	public List<ArtifactAlias> aliases(ArtifactType type, String name) {
		requireName(type, name);
		return this.names.aliases(type, name);
	}

	/**
	 * One alias of a name.
	 * @throws NotFoundException if the name or the alias is unknown
	 */
	public ArtifactAlias alias(ArtifactType type, String name, String alias) {
		requireName(type, name);
		return this.names.aliases(type, name)
			.stream()
			.filter((candidate) -> candidate.alias().equals(alias))
			.findFirst()
			.orElseThrow(() -> aliasNotFound(type, name, alias));
	}

	/**
	 * Points an alias of a name at one of its versions (any reference within the name: a
	 * version string, a version number, another alias), recording the move on the version
	 * it now points at.
	 * @return the alias and whether it is new
	 * @throws InvalidInputException for an alias that is not a valid name
	 * @throws ArtifactNotFoundException if the name or version is unknown
	 */
	@Transactional
	public AliasMove setAlias(ArtifactType type, String name, String alias, String version) {
		checkAlias(alias);
		requireName(type, name);
		if (version == null || version.isBlank()) {
			throw invalid("version", "is required: a version, a version number or an alias of " + name);
		}
		UUID target = resolve(type, name + "@" + version, "version");
		Optional<UUID> previous = this.names.setAlias(type, name, alias, target);
		if (previous.isEmpty() || !previous.get().equals(target)) {
			Map<String, Object> change = new LinkedHashMap<>();
			change.put("name", alias);
			change.putAll(beforeAfter(previous.map((id) -> find(type, id).getVersion()).orElse(null),
					find(type, target).getVersion()));
			this.names.recordChange(target, JSON.writeValueAsString(Map.of("alias", change)));
			// In the move's transaction: the event exists exactly when the move does.
			Map<String, Object> event = new LinkedHashMap<>();
			event.put("artifactType", type.name().toLowerCase(Locale.ROOT));
			event.put("name", name);
			event.put("alias", alias);
			event.put("version", find(type, target).getVersion());
			event.put("artifactId", target);
			event.put("previousVersion", previous.map((id) -> find(type, id).getVersion()).orElse(null));
			this.events.publish(EventType.ALIAS_MOVED, event);
		}
		return new AliasMove(alias(type, name, alias), previous.orElse(null), previous.isEmpty());
	}

	/**
	 * An alias after a move.
	 *
	 * @param alias the alias now
	 * @param previousArtifactId the version it pointed at before, or null if it is new
	 * @param created whether the alias is new
	 */
	public record AliasMove(ArtifactAlias alias, UUID previousArtifactId, boolean created) {
	}

	/**
	 * Removes an alias, recording it on the version it pointed at.
	 * @throws NotFoundException if the name or the alias is unknown
	 */
	@Transactional
	public void deleteAlias(ArtifactType type, String name, String alias) {
		requireName(type, name);
		UUID target = this.names.deleteAlias(type, name, alias).orElseThrow(() -> aliasNotFound(type, name, alias));
		Map<String, Object> change = new LinkedHashMap<>();
		change.put("name", alias);
		change.putAll(beforeAfter(find(type, target).getVersion(), null));
		this.names.recordChange(target, JSON.writeValueAsString(Map.of("alias", change)));
	}

	private static void checkAlias(String alias) {
		if (!ALIAS.matcher(alias).matches()) {
			throw invalid("alias", "must start with a letter and have at most 64 letters, digits, '_', '.' or '-'");
		}
		if (alias.equals(LATEST) || alias.equals("main")) {
			throw invalid("alias", "'" + alias + "' always means the latest version and cannot be set");
		}
	}

	private void requireName(ArtifactType type, String name) {
		if (!this.artifacts.existsByTypeAndName(type, name)) {
			throw ArtifactNotFoundException.forReference(type, name, "name");
		}
	}

	private static NotFoundException aliasNotFound(ArtifactType type, String name, String alias) {
		return new NotFoundException(ProblemKind.ALIAS_NOT_FOUND,
				type.name().toLowerCase(Locale.ROOT) + " " + name + " has no alias '" + alias + "'",
				Map.of("name", name, "alias", alias));
	}

	private ArtifactDetails withAliases(Artifact artifact) {
		return ArtifactDetails.of(artifact,
				this.names.aliasesOf(List.of(artifact.getId())).getOrDefault(artifact.getId(), List.of()));
	}

	/**
	 * Pins for one reader's blobs, to pass to {@link #content} or {@link #local} and
	 * close when the reader is done with the files.
	 */
	public BlobPins pins() {
		return new BlobPins(this.blobs);
	}

	/**
	 * An artifact's tensors with the local files that hold them, for computing on. With
	 * S3 this downloads every file not cached locally.
	 * @param pins hold the files in place until they close
	 * @throws ArtifactNotFoundException if no artifact of that type has the id
	 */
	public ArtifactContent content(ArtifactType type, UUID id, BlobPins pins) {
		return local(manifest(type, id), pins);
	}

	/**
	 * An artifact's manifest, adapter, config and file digests, read from the database
	 * alone: no blob is opened or downloaded. Enough to validate a recipe against.
	 * @throws ArtifactNotFoundException if no artifact of that type has the id
	 */
	public ArtifactContent manifest(ArtifactType type, UUID id) {
		Artifact artifact = find(type, id);
		List<StoredTensor> tensors = artifact.getTensors().stream().map(TensorLocation::stored).toList();
		LoraAdapter adapter = (artifact.getPatchKind() == PatchKind.LORA)
				? LoraAdapter.parse(artifact.getConfig().getBytes(StandardCharsets.UTF_8),
						tensors.stream().map(StoredTensor::spec).toList())
				: null;
		return new ArtifactContent(ArtifactDetails.of(artifact), tensors, null, adapter, artifact.getConfig());
	}

	/**
	 * Resolves a manifest's files to local paths, outside any transaction since with S3
	 * it may download them.
	 * @param pins hold the files in place until they close
	 * @throws BlobNotFoundException if a file's blob is missing
	 */
	@Transactional(propagation = Propagation.NOT_SUPPORTED)
	public ArtifactContent local(ArtifactContent manifest, BlobPins pins) {
		return manifest.withFiles(manifest.details().files().stream().map((file) -> pins.path(file.digest())).toList());
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
	 * bytes. The blobs stay pinned until the result is closed.
	 */
	public Weights weights(UUID modelId) {
		Artifact model = find(ArtifactType.MODEL, modelId);
		List<ArtifactFile> shards = model.getFiles().stream().filter((file) -> file.role().equals("weights")).toList();
		BlobPins pins = pins();
		try {
			if (shards.size() == 1) {
				ArtifactFile file = shards.get(0);
				return new Weights(file.digest(),
						new SegmentedFile(
								List.of(new SegmentedFile.FileRegion(pins.path(file.digest()), 0, file.sizeBytes()))),
						pins);
			}
			List<TensorSpec> specs = model.getTensors().stream().map(TensorLocation::spec).toList();
			List<SegmentedFile.Segment> segments = new ArrayList<>();
			// As save_pretrained writes it: without it, transformers refuses to load the
			// file.
			segments.add(new SegmentedFile.Bytes(SafetensorsWriter.header(specs, Map.of("format", "pt"))));
			for (TensorLocation tensor : model.getTensors()) {
				ArtifactFile file = model.getFiles().get(tensor.fileOrdinal());
				segments.add(new SegmentedFile.FileRegion(pins.path(file.digest()), tensor.dataOffset(),
						tensor.spec().byteSize()));
			}
			String digests = shards.stream().map(ArtifactFile::digest).collect(Collectors.joining(","));
			return new Weights(UUID.nameUUIDFromBytes(digests.getBytes(StandardCharsets.US_ASCII)).toString(),
					new SegmentedFile(segments), pins);
		}
		catch (RuntimeException ex) {
			pins.close();
			throw ex;
		}
	}

	/**
	 * One stored file of an artifact, ready to stream byte for byte, pinned until closed.
	 * @throws BlobNotFoundException if its blob is missing
	 */
	public FolderFile.Opened blob(StoredFile file) {
		BlobPins pins = pins();
		try {
			return new FolderFile.Opened(
					new SegmentedFile(
							List.of(new SegmentedFile.FileRegion(pins.path(file.digest()), 0, file.sizeBytes()))),
					pins::close);
		}
		catch (RuntimeException ex) {
			pins.close();
			throw ex;
		}
	}

	/**
	 * A model's weights ready to stream, pinned until closed.
	 *
	 * @param etag a strong validator: changes whenever the bytes would
	 * @param file the bytes
	 * @param pins what holds the bytes in place
	 */
	public record Weights(String etag, SegmentedFile file, BlobPins pins) implements AutoCloseable {

		@Override
		public void close() {
			this.pins.close();
		}

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
			// In the deleting transaction: no event for a delete that rolled back.
			this.events.publish(EventType.ARTIFACT_DELETED, ArtifactEvents.deleted(artifact));
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
			.map(StoredTensor::spec)
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
		List<TensorSpec> stored = patch.tensors().stream().map(StoredTensor::spec).toList();
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
