package dev.patchbay.registry;

import java.util.List;
import java.util.Optional;

/**
 * An artifact or composition as a Hugging Face folder: its files, in listing order, and a
 * revision id that names exactly these bytes.
 *
 * @param revision 40 hex digits, as a git commit id; the same for the same content
 * @param files the files, paths unique
 */
public record Folder(String revision, List<FolderFile> files) {

	public Folder {
		files = List.copyOf(files);
	}

	public Optional<FolderFile> file(String path) {
		return this.files.stream().filter((file) -> file.path().equals(path)).findFirst();
	}

}
