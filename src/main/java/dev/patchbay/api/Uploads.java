package dev.patchbay.api;

import java.io.IOException;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

import jakarta.servlet.ServletException;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.Part;

import org.springframework.web.multipart.MultipartFile;

import dev.patchbay.registry.Upload;
import dev.patchbay.registry.UploadRejectedException;

/**
 * Turns multipart files into registry uploads, with the client's file name reduced to a
 * safe base name, and refuses parts an endpoint does not take.
 */
final class Uploads {

	/** Longest file name kept, as most filesystems allow. */
	private static final int MAX_FILENAME = 255;

	private Uploads() {
	}

	static Upload of(String part, MultipartFile file) {
		if (file == null) {
			return null;
		}
		return new Upload(part, safeName(file.getOriginalFilename(), part), file);
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

	/**
	 * The last path segment of a client's file name without control characters, so that
	 * {@code ../../x.safetensors} is stored as {@code x.safetensors}; the part name when
	 * nothing is left.
	 */
	static String safeName(String name, String part) {
		if (name == null) {
			return part;
		}
		String base = name.substring(Math.max(name.lastIndexOf('/'), name.lastIndexOf('\\')) + 1);
		StringBuilder kept = new StringBuilder();
		base.codePoints().filter((c) -> !Character.isISOControl(c)).forEach(kept::appendCodePoint);
		String safe = kept.toString().strip();
		if (safe.isEmpty() || safe.equals(".") || safe.equals("..")) {
			return part;
		}
		return (safe.length() > MAX_FILENAME) ? safe.substring(safe.length() - MAX_FILENAME) : safe;
	}

	/**
	 * @throws UploadRejectedException naming the first part that is not one of
	 * {@code allowed}
	 */
	static void onlyParts(HttpServletRequest request, String... allowed) throws IOException {
		Set<String> known = new TreeSet<>(List.of(allowed));
		try {
			for (Part part : request.getParts()) {
				if (!known.contains(part.getName())) {
					throw UploadRejectedException.forField(part.getName(),
							"is not a part of this upload; expected parts " + known);
				}
			}
		}
		catch (ServletException ex) {
			throw new IOException(ex);
		}
	}

}
