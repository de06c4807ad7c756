package dev.patchbay.api;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RestController;

import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Folder;
import dev.patchbay.registry.FolderFile;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * Models, patches and compositions as Hugging Face folders: the listing with digests,
 * each file, and the whole folder as a tar stream.
 */
@RestController
class FolderController {

	private final Folders folders;

	private final Registry registry;

	FolderController(Folders folders, Registry registry) {
		this.folders = folders;
		this.registry = registry;
	}

	/**
	 * One file of a folder listing.
	 *
	 * @param path relative path in the folder
	 * @param size bytes
	 * @param sha256 digest of the bytes; null for a shard not computed yet
	 */
	record FileEntry(String path, long size, String sha256) {
	}

	@GetMapping({ "/api/v1/models/{id}/files", "/api/v1/patches/{id}/files", "/api/v1/compositions/{id}/files" })
	List<FileEntry> files(@PathVariable("id") String reference, HttpServletRequest request) throws IOException {
		ArtifactType type = typeOf(request);
		UUID id = idOf(type, reference);
		List<FileEntry> entries = new ArrayList<>();
		for (FolderFile file : this.folders.folder(type, id).files()) {
			FolderFile digested = this.folders.withDigest(type, id, file);
			entries.add(new FileEntry(digested.path(), digested.size(), digested.sha256()));
		}
		return entries;
	}

	@GetMapping({ "/api/v1/models/{id}/files/{*path}", "/api/v1/patches/{id}/files/{*path}",
			"/api/v1/compositions/{id}/files/{*path}" })
	void file(@PathVariable("id") String reference, @PathVariable String path, HttpServletRequest request,
			HttpServletResponse response) throws IOException {
		String relative = path.startsWith("/") ? path.substring(1) : path;
		UUID id = idOf(typeOf(request), reference);
		Folder folder = this.folders.folder(typeOf(request), id);
		FolderFile file = folder.file(relative)
			.orElseThrow(() -> new NotFoundException(ProblemKind.FILE_NOT_FOUND,
					"the folder of " + id + " has no file '" + relative + "'", Map.of("path", relative)));
		this.folders.send(file, request, response);
	}

	@GetMapping({ "/api/v1/models/{id}/archive", "/api/v1/patches/{id}/archive", "/api/v1/compositions/{id}/archive" })
	void archive(@PathVariable("id") String reference, HttpServletRequest request, HttpServletResponse response) {
		UUID id = idOf(typeOf(request), reference);
		this.folders.archive(this.folders.folder(typeOf(request), id), id.toString(), request, response);
	}

	/**
	 * A model or patch by id or reference ({@code name@alias} …); a composition by id
	 * only.
	 */
	private UUID idOf(ArtifactType type, String reference) {
		if (type != null) {
			return this.registry.resolve(type, reference, "id");
		}
		try {
			return UUID.fromString(reference);
		}
		catch (IllegalArgumentException ex) {
			throw new InvalidInputException(ProblemKind.INVALID_PARAMETER, "id: must be a UUID", Map.of("field", "id"));
		}
	}

	/** The collection the request names; null for compositions. */
	private static ArtifactType typeOf(HttpServletRequest request) {
		String uri = request.getRequestURI();
		if (uri.contains("/api/v1/models/")) {
			return ArtifactType.MODEL;
		}
		return uri.contains("/api/v1/patches/") ? ArtifactType.PATCH : null;
	}

}
