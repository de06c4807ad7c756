package dev.patchbay.registry;

import java.io.IOException;

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
 * directory that survives restarts and crashes ({@link EmbeddedDatabase}). It yields to
 * {@code spring.datasource.url} and to any other connection details (such as a
 * Testcontainers {@code @ServiceConnection}).
 */
@AutoConfiguration(before = DataSourceAutoConfiguration.class,
		afterName = "org.springframework.boot.testcontainers.service.connection.ServiceConnectionAutoConfiguration")
@ConditionalOnExpression("'${spring.datasource.url:}'.isEmpty()")
@ConditionalOnMissingBean(JdbcConnectionDetails.class)
class EmbeddedPostgresAutoConfiguration {

	private static final Logger logger = LoggerFactory.getLogger(EmbeddedPostgresAutoConfiguration.class);

	/**
	 * Closed by the context after every bean that depends on the connection details, the
	 * data source and so the composition workers among them, has been closed.
	 */
	@Bean(destroyMethod = "close")
	EmbeddedDatabase embeddedDatabase(RegistryProperties properties) throws IOException {
		RegistryProperties.EmbeddedDatabase settings = properties.embeddedDatabase();
		EmbeddedDatabase database = EmbeddedDatabase.start(settings);
		logger.info("Embedded PostgreSQL on port {} with data in {}", database.port(), settings.directory());
		return database;
	}

	@Bean
	JdbcConnectionDetails embeddedPostgresConnectionDetails(EmbeddedDatabase database) {
		return new JdbcConnectionDetails() {

			@Override
			public String getUsername() {
				return EmbeddedDatabase.USER;
			}

			@Override
			public String getPassword() {
				return database.password();
			}

			@Override
			public String getJdbcUrl() {
				return database.jdbcUrl();
			}

		};
	}

}
