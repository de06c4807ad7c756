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

	static List<Upload> of(String part, List<MultipartFile> files) {
		return (files == null) ? List.of() : files.stream().map((file) -> of(part, file)).toList();
	}

}
