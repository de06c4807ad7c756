package dev.patchbay.registry;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Everything needed to read an artifact's tensors: the manifest, a local file per
 * uploaded file, and for LoRA patches the parsed adapter. Content read as a
 * {@linkplain Registry#manifest manifest} has no local files yet: it is enough to check
 * and plan against, and {@link Registry#local} resolves the files when bytes are needed.
 *
 * @param details the registry entry
 * @param tensors the manifest with byte locations
 * @param files local paths of the artifact's files, by file ordinal; null until resolved
 * @param adapter the checked adapter of a lora patch, else null
 * @param config kind-specific settings JSON (e.g. RWS quantization), may be null
 */
public record ArtifactContent(ArtifactDetails details, List<StoredTensor> tensors, List<Path> files,
		LoraAdapter adapter, String config) {

	public Map<String, StoredTensor> tensorsByName() {
		return this.tensors.stream().collect(Collectors.toMap(StoredTensor::name, Function.identity()));
	}

	public Optional<StoredTensor> tensor(String name) {
		return this.tensors.stream().filter((tensor) -> tensor.name().equals(name)).findFirst();
	}

	/** The local file that holds a tensor's bytes, or null before files are resolved. */
	public Path fileOf(StoredTensor tensor) {
		return (this.files != null) ? this.files.get(tensor.fileOrdinal()) : null;
	}

	/** The same content with a local file for each of its files. */
	ArtifactContent withFiles(List<Path> files) {
		return new ArtifactContent(this.details, this.tensors, List.copyOf(files), this.adapter, this.config);
	}

	/**
	 * A digest of the content, independent of names and ids: the files' sha256 in order.
	 */
	public String contentDigest() {
		return this.details.files().stream().map(StoredFile::digest).collect(Collectors.joining(","));
	}

}
