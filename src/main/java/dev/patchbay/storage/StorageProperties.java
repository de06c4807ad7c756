package dev.patchbay.storage;

import java.nio.file.Path;

import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Blob storage settings.
 *
 * @param root Directory that holds the filesystem blob store.
 * @param maxUploadSize Maximum size of a single uploaded file.
 */
@Validated
@ConfigurationProperties("patchbay.storage")
public record StorageProperties(@NotNull Path root, @NotNull DataSize maxUploadSize) {
}
