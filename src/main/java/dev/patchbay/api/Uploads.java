package dev.patchbay.api;

import java.util.List;

import org.springframework.web.multipart.MultipartFile;

import dev.patchbay.registry.Upload;

/**
 * Turns multipart files into registry uploads.
 */
final class Uploads {

	private Uploads() {
	}

	static Upload of(String part, MultipartFile file) {
		if (file == null) {
			return null;
		}
		String name = file.getOriginalFilename();
		return new Upload(part, (name == null || name.isBlank()) ? part : name, file);
	}

	/**
	 * A folder's files: each multipart filename is the file's relative path, kept as sent
	 * (checked by the registry); a part without one is refused there.
	 */
	static List<Upload> folderFiles(List<MultipartFile> files) {
		return (files == null) ? List.of()
				: files.stream().map((file) -> new Upload("files", file.getOriginalFilename(), file)).toList();
	}

	static List<Upload> of(String part, List<MultipartFile> files) {
		return (files == null) ? List.of() : files.stream().map((file) -> of(part, file)).toList();
	}

}
