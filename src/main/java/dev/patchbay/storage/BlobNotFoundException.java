package dev.patchbay.storage;

import java.util.Map;

import dev.patchbay.shared.NotFoundException;

/**
 * A digest names no stored blob: the registry and the store disagree.
 */
public class BlobNotFoundException extends NotFoundException {

	private BlobNotFoundException(String digest) {
		super("blob-not-found", "Blob not found", "no blob is stored under sha256 " + digest, Map.of("digest", digest));
	}

	public static BlobNotFoundException forDigest(String digest) {
		return new BlobNotFoundException(digest);
	}

}
