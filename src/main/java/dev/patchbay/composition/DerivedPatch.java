package dev.patchbay.composition;

import java.util.Map;

/**
 * What a patch derived on the server (a diff, a signature, an extracted or combined LoRA)
 * is registered as; checked as an upload's metadata is.
 *
 * @param name the patch name
 * @param version an optional version; without one the next number of the name
 * @param labels optional labels
 */
public record DerivedPatch(String name, String version, Map<String, String> labels) {
}
