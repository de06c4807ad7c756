package dev.patchbay.registry;

import java.util.Locale;
import java.util.Set;

/**
 * The rules for a folder file's relative path: what a Hugging Face repo holds, and
 * nothing that could climb out of a directory or pass for a file the service generates.
 */
final class FolderPaths {

	static final int MAX_LENGTH = 500;

	/** Weights come in their own parts; pickles are never taken. */
	private static final Set<String> REFUSED_EXTENSIONS = Set.of(".safetensors", ".bin", ".pt", ".pth", ".ckpt", ".pkl",
			".pickle");

	private FolderPaths() {
	}

	/**
	 * @return why the path is refused, or null if it is fine
	 */
	static String problem(String path) {
		if (path == null || path.isBlank()) {
			return "has no file name; send each file with its relative path as the multipart filename";
		}
		if (path.length() > MAX_LENGTH) {
			return "path is longer than " + MAX_LENGTH + " characters";
		}
		if (path.startsWith("/") || path.contains("\\") || path.matches("^[A-Za-z]:.*")) {
			return "path '" + path + "' must be relative, with '/' between directories";
		}
		for (int i = 0; i < path.length(); i++) {
			if (Character.isISOControl(path.charAt(i))) {
				return "path '" + path.replaceAll("\\p{Cntrl}", "?") + "' contains control characters";
			}
		}
		for (String segment : path.split("/", -1)) {
			if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
				return "path '" + path + "' has an empty, '.' or '..' segment";
			}
		}
		String lower = path.toLowerCase(Locale.ROOT);
		for (String extension : REFUSED_EXTENSIONS) {
			if (lower.endsWith(extension)) {
				return "path '" + path + "': weights go in their own parts, and pickles are not accepted";
			}
		}
		if (lower.endsWith(".safetensors.index.json") || lower.equals("adapter_config.json")) {
			return "path '" + path + "' is generated from, or sent as, its own part";
		}
		return null;
	}

}
