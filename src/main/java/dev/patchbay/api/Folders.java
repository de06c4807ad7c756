package dev.patchbay.api;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Instant;
import java.util.Date;
import java.util.UUID;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import org.springframework.stereotype.Component;

import dev.patchbay.composition.CompositionFolders;
import dev.patchbay.composition.CompositionStatus;
import dev.patchbay.composition.Compositions;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactFolders;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Folder;
import dev.patchbay.registry.FolderDigests;
import dev.patchbay.registry.FolderFile;
import dev.patchbay.registry.Registry;

/**
 * Finds the folder of a model, patch or composition and sends its files: one by one
 * (ranges honoured, a shard still computing streamed once its bytes exist) or as one tar
 * stream, never staged.
 */
@Component
class Folders {

	/** Tar entries get a fixed time, so the same folder is the same tar. */
	private static final Date ENTRY_TIME = Date.from(Instant.parse("2020-01-01T00:00:00Z"));

	private final Registry registry;

	private final ArtifactFolders artifactFolders;

	private final CompositionFolders compositionFolders;

	private final Compositions compositions;

	private final FolderDigests digests;

	private final Downloads downloads;

	Folders(Registry registry, ArtifactFolders artifactFolders, CompositionFolders compositionFolders,
			Compositions compositions, FolderDigests digests, Downloads downloads) {
		this.registry = registry;
		this.artifactFolders = artifactFolders;
		this.compositionFolders = compositionFolders;
		this.compositions = compositions;
		this.digests = digests;
		this.downloads = downloads;
	}

	/**
	 * @param type the artifact type, or null for a composition
	 */
	Folder folder(ArtifactType type, UUID id) {
		if (type == null) {
			return this.compositionFolders.folder(id);
		}
		String recipe = null;
		if (type == ArtifactType.MODEL) {
			ArtifactDetails details = this.registry.get(type, id);
			if (details.compositionId() != null) {
				recipe = this.compositionFolders.recipeMarkdown(details.compositionId()).orElse(null);
			}
		}
		return this.artifactFolders.folder(type, id, this.compositionFolders.shardSize(), recipe);
	}

	/**
	 * A file with its digest: read once for a generated file that exists, left null for a
	 * shard of a composition not yet computed.
	 */
	FolderFile withDigest(ArtifactType type, UUID id, FolderFile file) throws IOException {
		// Hashing a deferred shard would mean waiting for its composition; until it is
		// ready the digest stays unknown rather than blocking the listing.
		if (file.deferred() && this.digests.known(file) == null
				&& (type != null || this.compositions.get(id).status() != CompositionStatus.READY)) {
			return file;
		}
		return this.digests.withDigest(file);
	}

	/** The digest if known without reading anything, else null. */
	String knownDigest(FolderFile file) {
		return this.digests.known(file);
	}

	/**
	 * Sends one file of a folder, by its last path segment as the download's name. A
	 * stored file is opened (and pinned) now; a deferred shard only on the download
	 * thread, where waiting for its bytes holds no request thread.
	 */
	void send(FolderFile file, HttpServletRequest request, HttpServletResponse response) throws IOException {
		String filename = file.path().substring(file.path().lastIndexOf('/') + 1);
		if (!file.deferred()) {
			FolderFile.Opened opened = file.source().open();
			this.downloads.file(opened.file(), file.etag(), filename, request, response, opened::close);
			return;
		}
		this.downloads.deferred(file.size(), file.etag(), filename, (out, from, to) -> {
			try (FolderFile.Opened opened = file.source().open()) {
				opened.file().transferTo(out, from, to);
			}
		}, request, response);
	}

	/**
	 * The whole folder as one tar stream, written as it is sent: nothing is staged, so a
	 * folder of any size costs one copy buffer.
	 */
	void archive(Folder folder, String name, HttpServletRequest request, HttpServletResponse response) {
		this.downloads.unsized((out) -> tar(folder, out), "application/x-tar", name + ".tar", request, response);
	}

	private static void tar(Folder folder, OutputStream out) throws IOException {
		TarArchiveOutputStream tar = new TarArchiveOutputStream(out);
		// POSIX (pax) headers: paths over 100 characters and files over 8 GiB need them,
		// and every current tar reads them.
		tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
		tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
		for (FolderFile file : folder.files()) {
			TarArchiveEntry entry = new TarArchiveEntry(file.path());
			entry.setSize(file.size());
			// Fixed mode and time: only the files' bytes and paths make a tar differ.
			entry.setMode(0644);
			entry.setModTime(ENTRY_TIME);
			tar.putArchiveEntry(entry);
			try (FolderFile.Opened opened = file.source().open()) {
				opened.file().transferTo(tar, 0, file.size());
			}
			tar.closeArchiveEntry();
		}
		// Ends the archive without closing the response stream, which the container owns.
		tar.finish();
		tar.flush();
	}

}
