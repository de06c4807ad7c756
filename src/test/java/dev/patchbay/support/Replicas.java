package dev.patchbay.support;

import java.nio.file.Path;
import java.util.UUID;
import java.util.stream.Stream;

import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.util.FileSystemUtils;

import dev.patchbay.PatchbayApplication;

/**
 * Two instances of the service on one PostgreSQL and one blob store, as two replicas
 * behind one Service: the first starts the (embedded) database, the second joins it.
 *
 * @param first the instance that owns the database
 * @param second the instance that joins it
 * @param dataDir both instances' data, deleted on close
 */
public record Replicas(ConfigurableApplicationContext first, ConfigurableApplicationContext second,
		Path dataDir) implements AutoCloseable {

	/**
	 * @param name names the data directory
	 * @param properties for both instances, as command-line arguments (which take
	 * precedence over application.yaml)
	 */
	public static Replicas start(String name, String... properties) {
		Path dataDir = Path.of("target/test-data/" + name + "-" + UUID.randomUUID());
		ConfigurableApplicationContext first = start(properties, "patchbay.data-dir=" + dataDir);
		JdbcConnectionDetails database = first.getBean(JdbcConnectionDetails.class);
		ConfigurableApplicationContext second = start(properties, "patchbay.data-dir=" + dataDir.resolve("second"),
				"patchbay.storage.root=" + dataDir.resolve("blobs"), "spring.datasource.url=" + database.getJdbcUrl(),
				"spring.datasource.username=" + database.getUsername(),
				"spring.datasource.password=" + database.getPassword());
		return new Replicas(first, second, dataDir);
	}

	private static ConfigurableApplicationContext start(String[] common, String... own) {
		Stream<String> properties = Stream.concat(
				Stream.of("server.port=0", "patchbay.security.admin-key=" + ApiClient.TEST_ADMIN_KEY),
				Stream.concat(Stream.of(common), Stream.of(own)));
		return new SpringApplicationBuilder(PatchbayApplication.class, TestDatabase.class)
			.run(properties.map((property) -> "--" + property).toArray(String[]::new));
	}

	@Override
	public void close() {
		this.second.close();
		this.first.close();
		FileSystemUtils.deleteRecursively(this.dataDir.toFile());
	}

}
