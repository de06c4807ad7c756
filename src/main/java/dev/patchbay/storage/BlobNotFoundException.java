package dev.patchbay.storage;

import java.util.Map;

import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;

/**
 * A digest names no stored blob: the registry and the store disagree.
 */
public class BlobNotFoundException extends NotFoundException {

	private BlobNotFoundException(String digest) {
		super(ProblemKind.BLOB_NOT_FOUND, "no blob is stored under sha256 " + digest, Map.of("digest", digest));
	}

	public static BlobNotFoundException forDigest(String digest) {
		return new BlobNotFoundException(digest);
	}

}
