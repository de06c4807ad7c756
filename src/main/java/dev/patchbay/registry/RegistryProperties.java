package dev.patchbay.registry;

import java.nio.file.Path;
import java.time.Duration;

import jakarta.validation.Valid;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import jakarta.validation.constraints.NotNull;

import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.bind.DefaultValue;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.annotation.Validated;

/**
 * Registry settings.
 *
 * @param embeddedDatabase Embedded PostgreSQL used when no external datasource URL is
 * set.
 * @param maxAdapterRank Maximum rank {@code r} (and rank_pattern value) of an uploaded
 * LoRA adapter.
 * @param maxFolderFileSize Maximum size of each of a folder's other files (config,
 * tokenizer, card) sent beside the weights in {@code files} parts.
 * @param maxFolderFiles Maximum number of {@code files} parts in one upload.
 */
@Validated
@ConfigurationProperties("patchbay.registry")
public record RegistryProperties(@Valid @NotNull EmbeddedDatabase embeddedDatabase,
		@DefaultValue("65536") @Min(1) int maxAdapterRank, @NotNull @DefaultValue("64MB") DataSize maxFolderFileSize,
		@DefaultValue("500") @Min(0) int maxFolderFiles) {

	/**
	 * Embedded PostgreSQL settings.
	 *
	 * @param directory Directory that holds the embedded PostgreSQL data files.
	 * @param port Port of the embedded PostgreSQL server, 0 for any free port.
	 * @param startupTimeout Maximum time to wait for the embedded PostgreSQL server to
	 * accept connections, crash recovery included.
	 * @param shutdownTimeout Maximum time to wait for a PostgreSQL server left running by
	 * a killed process to stop, before it is killed.
	 */
	public record EmbeddedDatabase(@NotNull Path directory, @Min(0) @Max(65535) int port,
			@NotNull @DefaultValue("60s") Duration startupTimeout,
			@NotNull @DefaultValue("30s") Duration shutdownTimeout) {
	}

}
