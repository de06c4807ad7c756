package dev.patchbay.api;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.http.HttpStatus;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;

import dev.patchbay.composition.CompositionFolders;
import dev.patchbay.composition.CompositionSummary;
import dev.patchbay.composition.Compositions;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactFilter;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Folder;
import dev.patchbay.registry.FolderFile;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.Sha256;

/**
 * The read side of the Hugging Face Hub's protocol, as {@code huggingface_hub} (with
 * {@code HF_ENDPOINT}) and {@code @huggingface/hub} (with {@code hubUrl}) call it: model
 * info, the file tree, and {@code resolve}/{@code raw} file reads with the headers those
 * clients rely on ({@code ETag}, {@code X-Repo-Commit}, {@code Content-Length},
 * {@code Range}, {@code X-Error-Code}). Repos are {@code patchbay/{name}} for registered
 * models and patches (revision: a version, {@code main} for the latest, or the sha the
 * info reported) and {@code compositions/{id}}.
 */
@RestController
@RequestMapping("/hf")
class HubController {

	// The Hub's repo ids are namespace/name; registered artifacts share one namespace,
	// since their names are unique per type and a model and a patch are tried in that
	// order.
	private static final String MODELS = "patchbay";

	// A composition has no name, so its repo is addressed by its id.
	private static final String COMPOSITIONS = "compositions";

	/** What a git LFS pointer file weighs, as the Hub reports it. */
	// No pointer file exists behind it; clients only read the number.
	private static final int POINTER_SIZE = 134;

	private final Registry registry;

	private final Compositions compositions;

	// Folders gives models, patches and compositions one file view with stable etags, so
	// this controller only translates the Hub's protocol onto it.
	private final Folders folders;

	HubController(Registry registry, Compositions compositions, Folders folders) {
		this.registry = registry;
		this.compositions = compositions;
		this.folders = folders;
	}

	@GetMapping("/api/models/{namespace}/{name}")
	/** Model info at main, the request {@code model_info(repo_id)} sends. */
	ResponseEntity<Object> info(@PathVariable String namespace, @PathVariable String name) {
		return info(namespace, name, "main");
	}

	/**
	 * Model info at a revision: the commit sha every later download of the client is
	 * pinned to, and the file list ({@code siblings}) that {@code snapshot_download}
	 * fetches.
	 */
	@GetMapping("/api/models/{namespace}/{name}/revision/{revision}")
	ResponseEntity<Object> info(@PathVariable String namespace, @PathVariable String name,
			@PathVariable String revision) {
		Repo repo = resolve(namespace, name, revision);
		if (repo.problem() != null) {
			return repo.problem();
		}
		List<Map<String, Object>> siblings = new ArrayList<>();
		for (FolderFile file : repo.folder().files()) {
			Map<String, Object> sibling = new LinkedHashMap<>();
			sibling.put("rfilename", file.path());
			sibling.put("size", file.size());
			sibling.put("blobId", blobId(file));
			String sha256 = this.folders.knownDigest(file);
			// Only weight files are LFS, as on the Hub, where configs and tokenizers are
			// plain git blobs; the sha256 is left out until it is known (a composition's
			// shard still computing), rather than reported wrong.
			if (sha256 != null && file.path().endsWith(".safetensors")) {
				sibling.put("lfs", Map.of("sha256", sha256, "size", file.size(), "pointerSize", POINTER_SIZE));
			}
			siblings.add(sibling);
		}
		Map<String, Object> body = new LinkedHashMap<>();
		String id = namespace + "/" + name;
		// The fields the Hub always sends are present (_id is a 24-hex object id there),
		// with neutral values for what Patchbay does not track: likes, downloads, gating.
		body.put("_id", repo.folder().revision().substring(0, 24));
		body.put("id", id);
		body.put("modelId", id);
		// The folder's revision is a content hash, so the same bytes keep the same sha
		// and a client's cache stays valid across restarts.
		body.put("sha", repo.folder().revision());
		body.put("private", false);
		body.put("disabled", false);
		body.put("gated", false);
		body.put("downloads", 0);
		body.put("likes", 0);
		body.put("tags", List.of("patchbay", "safetensors"));
		body.put("createdAt", repo.createdAt().toString());
		body.put("lastModified", repo.createdAt().toString());
		body.put("siblings", siblings);
		return ResponseEntity.ok(body);
	}

	@GetMapping({ "/api/models/{namespace}/{name}/tree/{revision}",
			"/api/models/{namespace}/{name}/tree/{revision}/{*path}" })
	ResponseEntity<Object> tree(@PathVariable String namespace, @PathVariable String name,
			@PathVariable String revision, @PathVariable(required = false) String path,
			@RequestParam(defaultValue = "false") boolean recursive) {
		Repo repo = resolve(namespace, name, revision);
		if (repo.problem() != null) {
			return repo.problem();
		}
		// The path of a tree listing is a directory; the Hub lists its direct children
		// unless recursive is set.
		String prefix = (path == null || path.equals("/") || path.isEmpty()) ? ""
				: path.replaceAll("^/+", "").replaceAll("/+$", "") + "/";
		// Sorted by path, so listings are stable and a directory comes before its files.
		Map<String, Map<String, Object>> entries = new TreeMap<>();
		for (FolderFile file : repo.folder().files()) {
			if (!file.path().startsWith(prefix)) {
				continue;
			}
			String rest = file.path().substring(prefix.length());
			String[] segments = rest.split("/");
			// Directories on the way, as the Hub lists them.
			for (int depth = 1; depth < segments.length && (recursive || depth == 1); depth++) {
				String directory = prefix + String.join("/", List.of(segments).subList(0, depth));
				entries.computeIfAbsent(directory, (key) -> directoryEntry(key));
			}
			if (recursive || segments.length == 1) {
				entries.put(file.path(), fileEntry(file));
			}
		}
		// An empty repo lists as empty; an unknown directory is a 404 the client maps to
		// EntryNotFoundError.
		if (entries.isEmpty() && !prefix.isEmpty()) {
			return notFound("EntryNotFound", "no entry '" + prefix + "' in " + namespace + "/" + name);
		}
		return ResponseEntity.ok(new ArrayList<>(entries.values()));
	}

	/**
	 * A file download, the request {@code hf_hub_download} sends; the path keeps its
	 * slashes ({@code {*path}}) because repo files live in subfolders.
	 */
	@GetMapping("/{namespace}/{name}/resolve/{revision}/{*path}")
	void resolve(@PathVariable String namespace, @PathVariable String name, @PathVariable String revision,
			@PathVariable String path, HttpServletRequest request, HttpServletResponse response) throws IOException {
		read(namespace, name, revision, path, request, response);
	}

	/**
	 * The same bytes by the raw route, which {@code @huggingface/hub} takes for
	 * {@code raw: true}.
	 */
	@GetMapping("/{namespace}/{name}/raw/{revision}/{*path}")
	void raw(@PathVariable String namespace, @PathVariable String name, @PathVariable String revision,
			@PathVariable String path, HttpServletRequest request, HttpServletResponse response) throws IOException {
		read(namespace, name, revision, path, request, response);
	}

	private void read(String namespace, String name, String revision, String path, HttpServletRequest request,
			HttpServletResponse response) throws IOException {
		Repo repo = resolve(namespace, name, revision);
		if (repo.problem() != null) {
			writeProblem(repo.problem(), response);
			return;
		}
		String relative = path.replaceAll("^/+", "");
		Optional<FolderFile> file = repo.folder().file(relative);
		if (file.isEmpty()) {
			writeProblem(notFound("EntryNotFound", "no file '" + relative + "' in " + namespace + "/" + name),
					response);
			return;
		}
		// huggingface_hub names the local snapshot directory by this header, so a
		// download at main lands in the same snapshot the info reported.
		response.setHeader("X-Repo-Commit", repo.folder().revision());
		this.folders.send(file.get(), request, response);
	}

	private Map<String, Object> fileEntry(FolderFile file) {
		Map<String, Object> entry = new LinkedHashMap<>();
		entry.put("type", "file");
		entry.put("oid", blobId(file));
		entry.put("size", file.size());
		entry.put("path", file.path());
		String sha256 = this.folders.knownDigest(file);
		if (sha256 != null && file.path().endsWith(".safetensors")) {
			entry.put("lfs", Map.of("oid", sha256, "size", file.size(), "pointerSize", POINTER_SIZE));
		}
		return entry;
	}

	/**
	 * A directory of the tree listing; its oid only has to be stable per path, since
	 * directories have no bytes.
	 */
	private static Map<String, Object> directoryEntry(String path) {
		Map<String, Object> entry = new LinkedHashMap<>();
		entry.put("type", "directory");
		entry.put("oid", Sha256.hex("directory\n" + path).substring(0, 40));
		entry.put("size", 0);
		entry.put("path", path);
		return entry;
	}

	/** A git-style 40-hex blob id that changes with the bytes. */
	private static String blobId(FolderFile file) {
		// Derived from the etag rather than from the bytes, so no file is read for a
		// listing.
		return Sha256.hex("blob\n" + file.etag()).substring(0, 40);
	}

	/**
	 * A repo at a revision, or the problem (404 with the Hub's error code) that names why
	 * there is none.
	 */
	private record Repo(Folder folder, Instant createdAt, ResponseEntity<Object> problem) {
	}

	private Repo resolve(String namespace, String name, String revision) {
		// A composition is a repo while it exists, computed or not; its folder's revision
		// is the only non-main revision it has.
		if (namespace.equals(COMPOSITIONS)) {
			UUID id = uuid(name);
			CompositionSummary view;
			try {
				view = (id != null) ? this.compositions.get(id) : null;
			}
			// An unknown composition is the Hub's RepoNotFound, not our problem+json: the
			// clients only understand the X-Error-Code convention.
			catch (NotFoundException ex) {
				view = null;
			}
			if (view == null) {
				return missingRepo(namespace, name);
			}
			Folder folder = this.folders.folder(null, id);
			if (!revision.equals("main") && !revision.equals(folder.revision())) {
				return missingRevision(namespace, name, revision);
			}
			return new Repo(folder, view.createdAt(), null);
		}
		if (!namespace.equals(MODELS)) {
			return missingRepo(namespace, name);
		}
		// A name is looked up as a model first, then as a patch. Only the 200 newest
		// versions are searched for a sha; an older one is still reached by its version.
		for (ArtifactType type : List.of(ArtifactType.MODEL, ArtifactType.PATCH)) {
			List<ArtifactDetails> versions = this.registry
				.list(type, new ArtifactFilter(name, null, null),
						PageRequest.of(0, 200, Sort.by(Sort.Direction.DESC, "createdAt")))
				.getContent();
			if (versions.isEmpty()) {
				continue;
			}
			// main is the latest; else a version, a version number or an alias, as the
			// registry resolves them everywhere.
			Optional<UUID> named = this.registry.tryResolve(type,
					name + "@" + (revision.equals("main") ? Registry.LATEST : revision));
			if (named.isPresent()) {
				ArtifactDetails details = this.registry.get(type, named.get());
				return new Repo(this.folders.folder(type, details.id()), details.createdAt(), null);
			}
			// A sha from an earlier info call: clients pin downloads to it, so it must
			// resolve to the same folder while that version exists.
			for (ArtifactDetails details : versions) {
				Folder folder = this.folders.folder(type, details.id());
				if (folder.revision().equals(revision)) {
					return new Repo(folder, details.createdAt(), null);
				}
			}
			return missingRevision(namespace, name, revision);
		}
		return missingRepo(namespace, name);
	}

	private static Repo missingRepo(String namespace, String name) {
		return new Repo(null, null, notFound("RepoNotFound", "repository " + namespace + "/" + name + " not found"));
	}

	private static Repo missingRevision(String namespace, String name, String revision) {
		return new Repo(null, null, notFound("RevisionNotFound",
				"revision '" + revision + "' of " + namespace + "/" + name + " not found"));
	}

	/**
	 * A Hub-style 404: huggingface_hub raises {@code RepositoryNotFoundError},
	 * {@code RevisionNotFoundError} or {@code EntryNotFoundError} by {@code X-Error-Code}
	 * and shows {@code X-Error-Message}.
	 */
	private static ResponseEntity<Object> notFound(String code, String message) {
		return ResponseEntity.status(HttpStatus.NOT_FOUND)
			.header("X-Error-Code", code)
			.header("X-Error-Message", message)
			.body(Map.of("error", message));
	}

	/**
	 * Writes a Hub-style error onto a servlet response, for the download routes that
	 * stream instead of returning an entity; the message is JSON-escaped the cheap way
	 * (quotes become apostrophes), as it only holds names from the request path.
	 */
	private static void writeProblem(ResponseEntity<Object> problem, HttpServletResponse response) throws IOException {
		response.setStatus(problem.getStatusCode().value());
		problem.getHeaders().forEach((header, values) -> values.forEach((value) -> response.addHeader(header, value)));
		response.setContentType("application/json");
		@SuppressWarnings("unchecked")
		Map<String, Object> body = (Map<String, Object>) problem.getBody();
		response.getWriter().write("{\"error\":\"" + body.get("error").toString().replace("\"", "'") + "\"}");
	}

	private static UUID uuid(String text) {
		try {
			return UUID.fromString(text);
		}
		catch (IllegalArgumentException ex) {
			return null;
		}
	}

}
