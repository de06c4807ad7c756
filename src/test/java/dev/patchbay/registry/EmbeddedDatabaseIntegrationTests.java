package dev.patchbay.registry;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;
import static org.awaitility.Awaitility.await;

/**
 * The embedded PostgreSQL on its own: real binaries in a temporary directory.
 */
class EmbeddedDatabaseIntegrationTests {

	@TempDir
	Path temp;

	private RegistryProperties.EmbeddedDatabase settings() {
		return new RegistryProperties.EmbeddedDatabase(this.temp.resolve("pg"), 0, Duration.ofSeconds(60),
				Duration.ofSeconds(30));
	}

	@Test
	void runsDurableAndRequiresAGeneratedPasswordKeptOwnerOnly() throws Exception {
		try (EmbeddedDatabase database = EmbeddedDatabase.start(settings())) {
			Path passwordFile = this.temp.resolve("pg.password");
			assertThat(Files.getPosixFilePermissions(passwordFile))
				.isEqualTo(PosixFilePermissions.fromString("rw-------"));
			assertThat(Files.readString(passwordFile).trim()).isEqualTo(database.password()).hasSizeGreaterThan(40);
			try (Connection connection = DriverManager.getConnection(database.jdbcUrl(), "postgres",
					database.password())) {
				assertThat(setting(connection, "fsync")).isEqualTo("on");
				assertThat(setting(connection, "synchronous_commit")).isEqualTo("on");
				assertThat(setting(connection, "full_page_writes")).isEqualTo("on");
			}
			assertRefusesWithoutThePassword(database);
		}
	}

	@Test
	void aClusterCreatedTrustingEveryoneIsGivenThePasswordAtStart() throws Exception {
		Path directory = Files.createDirectories(this.temp.resolve("pg"));
		try (EmbeddedPostgres legacy = EmbeddedPostgres.builder()
			.setDataDirectory(directory)
			.setCleanDataDirectory(false)
			.start()) {
			assertThat(legacy.getPostgresDatabase().getConnection().isValid(1)).isTrue();
		}
		try (EmbeddedDatabase database = EmbeddedDatabase.start(settings())) {
			assertRefusesWithoutThePassword(database);
			try (Connection connection = DriverManager.getConnection(database.jdbcUrl(), "postgres",
					database.password())) {
				assertThat(connection.isValid(1)).isTrue();
			}
		}
	}

	@Test
	void startsOverAStalePidFileWhosePidAnotherLiveProcessHasTaken() throws Exception {
		EmbeddedDatabase.start(settings()).close();
		Path directory = this.temp.resolve("pg").toAbsolutePath();
		// After a crash in a container, the pid in the file is often some live process.
		Files.writeString(directory.resolve("postmaster.pid"),
				ProcessHandle.current().pid() + "\n" + directory + "\n1700000000\n5432\n/tmp\nlocalhost\n");
		try (EmbeddedDatabase database = EmbeddedDatabase.start(settings());
				Connection connection = DriverManager.getConnection(database.jdbcUrl(), "postgres",
						database.password())) {
			assertThat(connection.isValid(1)).isTrue();
		}
		assertThat(ProcessHandle.current().isAlive()).isTrue();
	}

	@Test
	void refusesADirectoryThatAnotherLiveInstanceUses() throws Exception {
		try (EmbeddedDatabase database = EmbeddedDatabase.start(settings())) {
			assertThatIllegalStateException().isThrownBy(() -> EmbeddedDatabase.start(settings()))
				.withMessageContaining("another process is using");
			try (Connection connection = DriverManager.getConnection(database.jdbcUrl(), "postgres",
					database.password())) {
				assertThat(connection.isValid(1)).as("the running server is left alone").isTrue();
			}
		}
	}

	@Test
	void closingStopsTheServer() throws Exception {
		ProcessHandle server;
		try (EmbeddedDatabase database = EmbeddedDatabase.start(settings())) {
			server = EmbeddedDatabase.postmaster(this.temp.resolve("pg").toAbsolutePath()).orElseThrow();
		}
		assertThat(this.temp.resolve("pg/postmaster.pid")).doesNotExist();
		// pg_ctl waits for the pid file to go; the process itself exits a moment later.
		await("the server exited").atMost(Duration.ofSeconds(10))
			.pollInterval(Duration.ofMillis(20))
			.until(() -> !server.isAlive());
	}

	private static void assertRefusesWithoutThePassword(EmbeddedDatabase database) {
		assertThatExceptionOfType(SQLException.class)
			.isThrownBy(() -> DriverManager.getConnection(database.jdbcUrl(), "postgres", "").close())
			.withMessageContaining("password");
		assertThatExceptionOfType(SQLException.class)
			.isThrownBy(() -> DriverManager.getConnection(database.jdbcUrl(), "postgres", "wrong").close())
			.withMessageContaining("password");
	}

	private static String setting(Connection connection, String name) throws SQLException {
		try (Statement statement = connection.createStatement();
				ResultSet result = statement.executeQuery("show " + name)) {
			result.next();
			return result.getString(1);
		}
	}

}
