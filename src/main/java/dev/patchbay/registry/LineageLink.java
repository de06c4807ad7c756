package dev.patchbay.registry;

import java.util.UUID;

/**
 * One source an artifact was derived from.
 *
 * @param sourceId the source artifact
 * @param relation how it was used: {@code base}, {@code finetuned}, {@code clean},
 * {@code robust}, {@code pretrained} or {@code patch}; for a transformed model the
 * transform's kind ({@code drop_blocks}, {@code inherit}, {@code inflate},
 * {@code quantize})
 */
public record LineageLink(UUID sourceId, String relation) {
}
