package dev.patchbay.registry;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.stream.Collectors;

import org.springframework.stereotype.Service;
import org.springframework.transaction.annotation.Transactional;

import dev.patchbay.shared.Sha256;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.BlobPins;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.SegmentedFile;
import dev.patchbay.storage.ShardLayout;

/**
 * Models and patches as Hugging Face folders. A model is its folder files, its weights
 * cut into shards as {@code save_pretrained} cuts them (streamed from the stored blobs,
 * never copied), an index when there are several, and a model card unless one was
 * uploaded; a model derived from another (a materialized composition) carries its base's
 * files. A LoRA patch is a PEFT folder, its two files byte for byte as uploaded.
 */
@Service
@Transactional(readOnly = true)
public class ArtifactFolders {

	public static final String ADAPTER_CONFIG = "adapter_config.json";

	public static final String ADAPTER_MODEL = "adapter_model.safetensors";

	private final ArtifactRepository artifacts;

	private final BlobStore blobs;

	ArtifactFolders(ArtifactRepository artifacts, BlobStore blobs) {
		this.artifacts = artifacts;
		this.blobs = blobs;
	}

	/** The Hub repo id of a registered model or patch. */
	public static String repoId(String name) {
		return "patchbay/" + name;
	}

	/**
	 * A model or patch as a folder.
	 * @param shardSize the most tensor bytes in one weight shard
	 * @param recipe Markdown describing the recipe of the composition a model came from,
	 * for its card, or null
	 * @throws ArtifactNotFoundException if no artifact of that type has the id
	 */
	public Folder folder(ArtifactType type, UUID id, long shardSize, String recipe) {
		Artifact artifact = find(type, id);
		List<FolderFile> files = new ArrayList<>();
		List<FolderFile> own = artifact.getFiles()
			.stream()
			.filter((file) -> file.role().equals("file"))
			.map((file) -> stored(file.fileName(), file))
			.toList();
		if (type == ArtifactType.MODEL) {
			if (own.isEmpty() && artifact.getBaseModelId() != null) {
				files.addAll(companionFiles(artifact.getBaseModelId(), specs(artifact)));
			}
			else {
				files.addAll(own);
			}
			files.addAll(weights(artifact, shardSize));
		}
		else {
			files.addAll(own);
			for (ArtifactFile file : artifact.getFiles()) {
				switch (file.role()) {
					case "adapter_config" -> files.add(stored(ADAPTER_CONFIG, file));
					case "adapter_model" -> files.add(stored(ADAPTER_MODEL, file));
					case "weights", "data" -> files.add(stored(weightsName(artifact), file));
					default -> {
					}
				}
			}
		}
		if (files.stream().noneMatch((file) -> file.path().equals(ModelCard.PATH))) {
			files.add(generated(ModelCard.PATH, card(artifact, files, recipe).render()));
		}
		return new Folder(Sha256.hex(type + "\n" + id).substring(0, 40), files);
	}

	/**
	 * The folder files of a model, for a folder of other weights derived from it: its
	 * {@code config.json} updated to those weights, its own card left out.
	 * @throws ArtifactNotFoundException if no model has the id
	 */
	public List<FolderFile> companionFiles(UUID modelId, List<TensorSpec> tensors) {
		return companionFiles(modelId, tensors, null);
	}

	/**
	 * The folder files of a model for other weights derived from it, with a layer count
	 * of their own in {@code config.json} (see {@link ModelConfigs#updated}).
	 * @param layers the weights' layer count, or null to keep the model's
	 * @throws ArtifactNotFoundException if no model has the id
	 */
	public List<FolderFile> companionFiles(UUID modelId, List<TensorSpec> tensors, Integer layers) {
		Artifact model = find(ArtifactType.MODEL, modelId);
		List<FolderFile> files = new ArrayList<>();
		for (ArtifactFile file : model.getFiles()) {
			if (!file.role().equals("file") || file.fileName().equals(ModelCard.PATH)) {
				continue;
			}
			if (file.fileName().equals(ModelConfigs.PATH)) {
				byte[] original = readSmall(file);
				byte[] updated = ModelConfigs.updated(original, tensors, layers);
				files.add((updated == original) ? stored(file.fileName(), file) : generated(file.fileName(), updated));
			}
			else {
				files.add(stored(file.fileName(), file));
			}
		}
		return files;
	}

	/** A file generated in memory, such as an index or a card. */
	public static FolderFile generated(String path, byte[] bytes) {
		String sha256 = Sha256.hex(bytes);
		SegmentedFile file = new SegmentedFile(List.of(new SegmentedFile.Bytes(bytes)));
		return new FolderFile(path, bytes.length, sha256, sha256, false, () -> FolderFile.Opened.of(file));
	}

	private FolderFile stored(String path, ArtifactFile file) {
		return new FolderFile(path, file.sizeBytes(), file.digest(), file.digest(), false,
				() -> opened(List.of(new Region(file.digest(), 0, file.sizeBytes())), null));
	}

	/**
	 * Regions of stored blobs after an optional generated header, the blobs pinned until
	 * the reader closes it.
	 */
	private FolderFile.Opened opened(List<Region> regions, byte[] header) {
		BlobPins pins = new BlobPins(this.blobs);
		try {
			List<SegmentedFile.Segment> segments = new ArrayList<>();
			if (header != null) {
				segments.add(new SegmentedFile.Bytes(header));
			}
			regions.forEach((region) -> segments
				.add(new SegmentedFile.FileRegion(pins.path(region.digest()), region.offset(), region.length())));
			return new FolderFile.Opened(new SegmentedFile(segments), pins::close);
		}
		catch (RuntimeException ex) {
			pins.close();
			throw ex;
		}
	}

	/** Shards made from regions of the stored files: adjacent tensors are one region. */
	private List<FolderFile> weights(Artifact model, long shardSize) {
		ShardLayout layout = ShardLayout.of(specs(model), shardSize);
		String digests = model.getFiles()
			.stream()
			.filter((file) -> file.role().equals("weights"))
			.map(ArtifactFile::digest)
			.collect(Collectors.joining(","));
		List<FolderFile> files = new ArrayList<>();
		int tensor = 0;
		for (ShardLayout.Shard shard : layout.shards()) {
			List<Region> regions = new ArrayList<>();
			for (int i = 0; i < shard.tensors().size(); i++, tensor++) {
				TensorLocation location = model.getTensors().get(tensor);
				String digest = model.getFiles().get(location.fileOrdinal()).digest();
				long length = location.spec().byteSize();
				Region last = regions.isEmpty() ? null : regions.get(regions.size() - 1);
				if (last != null && last.digest().equals(digest)
						&& last.offset() + last.length() == location.dataOffset()) {
					regions.set(regions.size() - 1, new Region(digest, last.offset(), last.length() + length));
				}
				else {
					regions.add(new Region(digest, location.dataOffset(), length));
				}
			}
			String etag = Sha256.hex("shard\n" + shardSize + "\n" + shard.name() + "\n" + digests);
			files.add(new FolderFile(shard.name(), shard.size(), etag, null, false,
					() -> opened(regions, shard.header())));
		}
		if (layout.sharded()) {
			files.add(generated(ShardLayout.INDEX_FILE, layout.indexJson()));
		}
		return files;
	}

	private record Region(String digest, long offset, long length) {
	}

	private ModelCard card(Artifact artifact, List<FolderFile> files, String recipe) {
		Artifact base = (artifact.getBaseModelId() != null)
				? this.artifacts.findById(artifact.getBaseModelId()).orElse(null) : null;
		String title = artifact.getName() + ((artifact.getVersion() != null) ? " " + artifact.getVersion() : "");
		StringBuilder body = new StringBuilder();
		List<String> tags = new ArrayList<>(List.of("patchbay"));
		String relation;
		String library;
		if (artifact.getType() == ArtifactType.PATCH) {
			body.append("A ")
				.append(artifact.getPatchKind().wireName())
				.append(" patch registered in Patchbay as `")
				.append(artifact.getId())
				.append("`.\n");
			tags.add(artifact.getPatchKind().wireName());
			relation = (artifact.getPatchKind() == PatchKind.LORA) ? "adapter" : null;
			library = (artifact.getPatchKind() == PatchKind.LORA) ? "peft" : null;
		}
		else {
			body.append("A model registered in Patchbay as `").append(artifact.getId()).append("`.\n");
			// A quantized export says so to the Hub; other derivations keep "finetune".
			boolean quantized = artifact.getLineage().stream().anyMatch((edge) -> edge.relation().equals("quantize"));
			relation = (artifact.getCompositionId() != null) ? "merge"
					: (base != null) ? (quantized ? "quantized" : "finetune") : null;
			if (artifact.getCompositionId() != null) {
				tags.add("merge");
			}
			library = files.stream().anyMatch((file) -> file.path().equals(ModelConfigs.PATH)) ? "transformers" : null;
		}
		if (recipe != null) {
			body.append('\n').append(recipe.strip()).append('\n');
		}
		if (!artifact.getLineage().isEmpty() || base != null) {
			body.append("\n## Lineage\n\n");
			if (base != null) {
				body.append("- base: ").append(describe(base)).append('\n');
			}
			for (LineageEdge edge : artifact.getLineage()) {
				this.artifacts.findById(edge.sourceId())
					.ifPresent((source) -> body.append("- ")
						.append(edge.relation())
						.append(": ")
						.append(describe(source))
						.append('\n'));
			}
		}
		return new ModelCard((base != null) ? repoId(base.getName()) : null, relation, library, tags, title,
				body.toString());
	}

	/** One lineage line: repo, version and id of an artifact. */
	public static String describe(String name, String version, UUID id) {
		return "`" + repoId(name) + "`" + ((version != null) ? " version `" + version + "`" : "") + " (`" + id + "`)";
	}

	private static String describe(Artifact artifact) {
		return describe(artifact.getName(), artifact.getVersion(), artifact.getId());
	}

	private static String weightsName(Artifact artifact) {
		return (artifact.getPatchKind() != null) ? artifact.getPatchKind().wireName() + ".safetensors"
				: "data.safetensors";
	}

	private static List<TensorSpec> specs(Artifact artifact) {
		return artifact.getTensors().stream().map(TensorLocation::spec).toList();
	}

	private byte[] readSmall(ArtifactFile file) {
		try (BlobPins pins = new BlobPins(this.blobs)) {
			return Files.readAllBytes(pins.path(file.digest()));
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	private Artifact find(ArtifactType type, UUID id) {
		return this.artifacts.findByIdAndType(id, type).orElseThrow(() -> ArtifactNotFoundException.forId(type, id));
	}

}
