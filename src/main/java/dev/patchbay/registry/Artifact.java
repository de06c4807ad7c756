package dev.patchbay.registry;

import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import jakarta.persistence.CollectionTable;
import jakarta.persistence.Column;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.MapKeyColumn;
import jakarta.persistence.OrderColumn;
import jakarta.persistence.Table;

/**
 * A registry entry. Models, patches and datasets share one table: they have the same
 * shape (files, tensors, labels) and differ only in a few nullable columns.
 */
@Entity
@Table(name = "artifact")
class Artifact {

	@Id
	private UUID id;

	@Enumerated(EnumType.STRING)
	private ArtifactType type;

	@Enumerated(EnumType.STRING)
	private PatchKind patchKind;

	private String name;

	private String version;

	/** 1, 2, 3 … per type and name, in registration order; the highest is the latest. */
	private int versionNumber;

	private String family;

	private String description;

	private UUID baseModelId;

	private long sizeBytes;

	private long parameterCount;

	private String config;

	private UUID compositionId;

	private Instant createdAt;

	@ElementCollection
	@CollectionTable(name = "artifact_label", joinColumns = @JoinColumn(name = "artifact_id"))
	@MapKeyColumn(name = "key")
	@Column(name = "value")
	private Map<String, String> labels = new LinkedHashMap<>();

	@ElementCollection
	@CollectionTable(name = "artifact_file", joinColumns = @JoinColumn(name = "artifact_id"))
	@OrderColumn(name = "ordinal")
	private List<ArtifactFile> files = new ArrayList<>();

	@ElementCollection
	@CollectionTable(name = "artifact_lineage", joinColumns = @JoinColumn(name = "artifact_id"))
	@OrderColumn(name = "ordinal")
	private List<LineageEdge> lineage = new ArrayList<>();

	@ElementCollection
	@CollectionTable(name = "artifact_tensor", joinColumns = @JoinColumn(name = "artifact_id"))
	@OrderColumn(name = "ordinal")
	private List<TensorLocation> tensors = new ArrayList<>();

	protected Artifact() {
	}

	Artifact(ArtifactType type, PatchKind patchKind, String name, String version, String family,
			Map<String, String> labels) {
		this.id = UUID.randomUUID();
		this.type = type;
		this.patchKind = patchKind;
		this.name = name;
		this.version = version;
		this.family = family;
		this.labels.putAll(labels);
		this.createdAt = Instant.now();
	}

	/**
	 * Numbers this artifact within its name; a version the client did not give is the
	 * number.
	 */
	void setVersionNumber(int versionNumber) {
		this.versionNumber = versionNumber;
		if (this.version == null) {
			this.version = Integer.toString(versionNumber);
		}
	}

	void setDescription(String description) {
		this.description = description;
	}

	void setLabels(Map<String, String> labels) {
		this.labels.clear();
		this.labels.putAll(labels);
	}

	void setBaseModelId(UUID baseModelId) {
		this.baseModelId = baseModelId;
	}

	void setConfig(String config) {
		this.config = config;
	}

	void setDerivation(List<LineageLink> lineage, UUID compositionId) {
		this.lineage = new ArrayList<>(lineage.stream().map(LineageEdge::of).toList());
		this.compositionId = compositionId;
	}

	void setContent(List<ArtifactFile> files, List<TensorLocation> tensors) {
		this.files = new ArrayList<>(files);
		this.tensors = new ArrayList<>(tensors);
		this.sizeBytes = files.stream().mapToLong(ArtifactFile::sizeBytes).sum();
		this.parameterCount = tensors.stream().mapToLong((tensor) -> tensor.spec().elementCount()).sum();
	}

	/**
	 * Puts a graph in place of the current one, which stays last among the files so that
	 * the weights' file ordinals do not move.
	 * @return the digest of the graph replaced, or null
	 */
	String replaceGraph(ArtifactFile graph) {
		String replaced = this.files.stream()
			.filter((file) -> file.role().equals("graph"))
			.map(ArtifactFile::digest)
			.findFirst()
			.orElse(null);
		this.files.removeIf((file) -> file.role().equals("graph"));
		this.files.add(graph);
		this.sizeBytes = this.files.stream().mapToLong(ArtifactFile::sizeBytes).sum();
		return replaced;
	}

	UUID getId() {
		return this.id;
	}

	ArtifactType getType() {
		return this.type;
	}

	PatchKind getPatchKind() {
		return this.patchKind;
	}

	String getName() {
		return this.name;
	}

	String getVersion() {
		return this.version;
	}

	int getVersionNumber() {
		return this.versionNumber;
	}

	String getDescription() {
		return this.description;
	}

	String getFamily() {
		return this.family;
	}

	UUID getBaseModelId() {
		return this.baseModelId;
	}

	long getSizeBytes() {
		return this.sizeBytes;
	}

	long getParameterCount() {
		return this.parameterCount;
	}

	String getConfig() {
		return this.config;
	}

	UUID getCompositionId() {
		return this.compositionId;
	}

	List<LineageEdge> getLineage() {
		return this.lineage;
	}

	Instant getCreatedAt() {
		return this.createdAt;
	}

	Map<String, String> getLabels() {
		return this.labels;
	}

	List<ArtifactFile> getFiles() {
		return this.files;
	}

	List<TensorLocation> getTensors() {
		return this.tensors;
	}

}
