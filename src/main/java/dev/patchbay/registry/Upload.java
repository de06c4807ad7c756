package dev.patchbay.registry;

import org.springframework.core.io.InputStreamSource;

/**
 * An uploaded file as the registry sees it: a name and a way to read its bytes once.
 *
 * @param part the multipart part it came in, named in errors
 * @param filename the client's file name, or the part name when none was sent
 * @param content the bytes
 */
public record Upload(String part, String filename, InputStreamSource content) {
}
