package dev.patchbay.registry;

import java.io.IOException;
import java.nio.file.Files;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import org.springframework.boot.autoconfigure.AutoConfiguration;
import org.springframework.boot.autoconfigure.condition.ConditionalOnExpression;
import org.springframework.boot.autoconfigure.condition.ConditionalOnMissingBean;
import org.springframework.boot.jdbc.autoconfigure.DataSourceAutoConfiguration;
import org.springframework.boot.jdbc.autoconfigure.JdbcConnectionDetails;
import org.springframework.context.annotation.Bean;

/**
 * Starts a real PostgreSQL from the embedded binaries when no external database is
 * configured, so the service runs with nothing installed but a JDK. Data lives in a
 * directory that survives restarts. It yields to {@code spring.datasource.url} and to any
 * other connection details (such as a Testcontainers {@code @ServiceConnection}).
 */
@AutoConfiguration(before = DataSourceAutoConfiguration.class,
		afterName = "org.springframework.boot.testcontainers.service.connection.ServiceConnectionAutoConfiguration")
@ConditionalOnExpression("'${spring.datasource.url:}'.isEmpty()")
@ConditionalOnMissingBean(JdbcConnectionDetails.class)
class EmbeddedPostgresAutoConfiguration {

	private static final Logger logger = LoggerFactory.getLogger(EmbeddedPostgresAutoConfiguration.class);

	@Bean(destroyMethod = "close")
	EmbeddedPostgres embeddedPostgres(RegistryProperties properties) throws IOException {
		RegistryProperties.EmbeddedDatabase settings = properties.embeddedDatabase();
		EmbeddedPostgres postgres = EmbeddedPostgres.builder()
			.setDataDirectory(Files.createDirectories(settings.directory()))
			.setCleanDataDirectory(false)
			.setPort(settings.port())
			.start();
		logger.info("Embedded PostgreSQL on port {} with data in {}", postgres.getPort(), settings.directory());
		return postgres;
	}

	@Bean
	JdbcConnectionDetails embeddedPostgresConnectionDetails(EmbeddedPostgres postgres) {
		String url = postgres.getJdbcUrl("postgres", "postgres");
		return new JdbcConnectionDetails() {

			@Override
			public String getUsername() {
				return "postgres";
			}

			@Override
			public String getPassword() {
				return "";
			}

			@Override
			public String getJdbcUrl() {
				return url;
			}

		};
	}

}
