package dev.patchbay.registry;

/**
 * One uploaded file of an artifact and the blob holding its bytes.
 *
 * @param role what the file is: {@code weights}, {@code index}, {@code graph},
 * {@code adapter_config}, {@code adapter_model} or {@code data}
 * @param fileName the file name as uploaded
 * @param digest sha256 of the bytes, the blob's key
 * @param sizeBytes the file size
 */
public record StoredFile(String role, String fileName, String digest, long sizeBytes) {
}
