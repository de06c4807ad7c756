package dev.patchbay.registry;

import java.io.IOException;
import java.io.OutputStream;
import java.security.DigestOutputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

import org.springframework.stereotype.Component;

/**
 * The sha256 of generated folder files, computed by reading them once and remembered by
 * their etag (a strong validator, so the same etag is the same bytes).
 */
@Component
public class FolderDigests {

	private static final int REMEMBERED = 4096;

	private final Map<String, String> byEtag = new LinkedHashMap<>(16, 0.75f, true) {

		@Override
		protected boolean removeEldestEntry(Map.Entry<String, String> eldest) {
			return size() > REMEMBERED;
		}

	};

	/** The digest if already known, else null. */
	public synchronized String known(FolderFile file) {
		return (file.sha256() != null) ? file.sha256() : this.byEtag.get(file.etag());
	}

	/**
	 * The file with its digest, reading its bytes if it is not known yet.
	 */
	public FolderFile withDigest(FolderFile file) throws IOException {
		String known = known(file);
		if (known != null) {
			return file.withSha256(known);
		}
		MessageDigest digest;
		try {
			digest = MessageDigest.getInstance("SHA-256");
		}
		catch (NoSuchAlgorithmException ex) {
			throw new IllegalStateException("every JVM has SHA-256", ex);
		}
		try (FolderFile.Opened opened = file.source().open();
				OutputStream out = new DigestOutputStream(OutputStream.nullOutputStream(), digest)) {
			opened.file().transferTo(out, 0, file.size());
		}
		String sha256 = HexFormat.of().formatHex(digest.digest());
		synchronized (this) {
			this.byEtag.put(file.etag(), sha256);
		}
		return file.withSha256(sha256);
	}

}
