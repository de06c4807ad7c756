package dev.patchbay.registry;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Optional;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded PostgreSQL, made safe to crash. zonky's defaults suit throwaway test
 * databases, not a registry: they turn fsync and synchronous commit off, trust every
 * local connection, stop the server from a JVM shutdown hook that races the application's
 * own shutdown, and leave the server running when the JVM is killed. Here the server is
 * durable, needs a generated password, is stopped only when Spring closes this bean
 * (after everything that uses the database), and dies with the JVM however the JVM dies.
 * A server or a pid file left behind by a killed JVM is stopped or removed at start.
 * <p>
 * Public so that other modules can ask whether the registry runs on it (a bean of this
 * type exists only then); everything else about it is the registry's.
 */
public final class EmbeddedDatabase implements AutoCloseable {

	static final String USER = "postgres";

	private static final Logger logger = LoggerFactory.getLogger(EmbeddedDatabase.class);

	private final EmbeddedPostgres postgres;

	private final String password;

	private final FileChannel lockChannel;

	private final Process watchdog;

	private EmbeddedDatabase(EmbeddedPostgres postgres, String password, FileChannel lockChannel, Process watchdog) {
		this.postgres = postgres;
		this.password = password;
		this.lockChannel = lockChannel;
		this.watchdog = watchdog;
	}

	/**
	 * Starts the server on its data directory, creating the cluster on first use.
	 * @throws IllegalStateException if another live process already uses the directory
	 */
	static EmbeddedDatabase start(RegistryProperties.EmbeddedDatabase settings) throws IOException {
		Path directory = settings.directory().toAbsolutePath().normalize();
		Files.createDirectories(directory.getParent());
		FileChannel lockChannel = FileChannel.open(sibling(directory, ".lock"), StandardOpenOption.CREATE,
				StandardOpenOption.WRITE);
		try {
			FileLock lock;
			try {
				lock = lockChannel.tryLock();
			}
			catch (OverlappingFileLockException ex) {
				lock = null;
			}
			if (lock == null) {
				throw new IllegalStateException("another process is using the embedded database in " + directory);
			}
			Files.createDirectories(directory);
			stopLeftovers(directory, settings.shutdownTimeout());
			String password = password(sibling(directory, ".password"));
			boolean fresh = !Files.exists(directory.resolve("postgresql.conf"));
			EmbeddedPostgres.Builder builder = EmbeddedPostgres.builder()
				.setDataDirectory(directory)
				.setCleanDataDirectory(false)
				.setPort(settings.port())
				.setPGStartupWait(settings.startupTimeout())
				// Spring stops the server when it closes this bean, after the beans that
				// use it; zonky's own hook would stop it under them.
				.setRegisterShutdownHook(false)
				// zonky passes -F (fsync off) and synchronous_commit=off; later options
				// win, so these make a commit durable once it is acknowledged.
				.setServerConfig("fsync", "on")
				.setServerConfig("synchronous_commit", "on")
				.setServerConfig("full_page_writes", "on")
				.setServerConfig("listen_addresses", "localhost")
				.setConnectConfig("password", password);
			if (fresh) {
				// initdb options after zonky's "-A trust": the last one wins.
				builder.setLocaleConfig("auth", "scram-sha-256")
					.setLocaleConfig("pwfile", sibling(directory, ".password").toString());
			}
			EmbeddedPostgres postgres = builder.start();
			try {
				requirePassword(postgres, directory, password);
				Process watchdog = watchdog(postmasterPid(directory));
				return new EmbeddedDatabase(postgres, password, lockChannel, watchdog);
			}
			catch (IOException | RuntimeException ex) {
				postgres.close();
				throw ex;
			}
		}
		catch (IOException | RuntimeException ex) {
			lockChannel.close();
			throw ex;
		}
	}

	String jdbcUrl() {
		return this.postgres.getJdbcUrl(USER, "postgres");
	}

	String password() {
		return this.password;
	}

	int port() {
		return this.postgres.getPort();
	}

	/** Stops the server (a fast shutdown: sessions end, a checkpoint is written). */
	@Override
	public void close() throws IOException {
		if (this.watchdog != null) {
			// It ignores SIGTERM; and it must not stop the server under pg_ctl stop.
			this.watchdog.destroyForcibly();
		}
		try {
			this.postgres.close();
		}
		finally {
			this.lockChannel.close();
		}
	}

	private static Path sibling(Path directory, String suffix) {
		return directory.resolveSibling(directory.getFileName() + suffix);
	}

	/**
	 * Deals with what a killed JVM left in the data directory. The lock is ours, so no
	 * live Patchbay uses the directory: a postgres process still serving it is an orphan
	 * and is stopped; a pid file naming any other process (pids are reused, in a
	 * container almost surely) is stale and removed, since PostgreSQL would refuse to
	 * start over it.
	 */
	private static void stopLeftovers(Path directory, Duration timeout) throws IOException {
		Path pidFile = directory.resolve("postmaster.pid");
		Optional<ProcessHandle> orphan = postmaster(directory);
		if (orphan.isPresent()) {
			ProcessHandle server = orphan.get();
			logger.warn("Stopping PostgreSQL (pid {}) left running on {} by a previous run", server.pid(), directory);
			List<ProcessHandle> processes = new ArrayList<>(server.descendants().toList());
			processes.add(server);
			// SIGTERM is a smart shutdown: its clients died with their JVM, so it is
			// quick.
			server.destroy();
			if (!awaitExit(processes, timeout)) {
				logger.warn("PostgreSQL (pid {}) did not stop within {}; killing it", server.pid(), timeout);
				processes.forEach(ProcessHandle::destroyForcibly);
				if (!awaitExit(processes, timeout)) {
					throw new IllegalStateException("could not stop the PostgreSQL left running on " + directory);
				}
			}
		}
		if (Files.deleteIfExists(pidFile)) {
			logger.warn("Removed the stale pid file of a previous run in {}", directory);
		}
	}

	/** The live postgres server that the directory's pid file names, if there is one. */
	static Optional<ProcessHandle> postmaster(Path directory) throws IOException {
		Path pidFile = directory.resolve("postmaster.pid");
		if (!Files.exists(pidFile)) {
			return Optional.empty();
		}
		List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
		if (lines.size() < 2 || !lines.get(0).trim().matches("\\d{1,10}")
				|| !sameFile(lines.get(1).trim(), directory)) {
			return Optional.empty();
		}
		return ProcessHandle.of(Long.parseLong(lines.get(0).trim()))
			.filter(ProcessHandle::isAlive)
			.filter((process) -> process.info()
				.command()
				.map((command) -> Path.of(command).getFileName().toString().equals("postgres"))
				.orElse(false));
	}

	private static boolean sameFile(String written, Path directory) {
		try {
			Path path = Path.of(written);
			return Files.exists(path) && Files.isSameFile(path, directory);
		}
		catch (IOException | RuntimeException ex) {
			return false;
		}
	}

	private static boolean awaitExit(List<ProcessHandle> processes, Duration timeout) {
		long deadline = System.nanoTime() + timeout.toNanos();
		while (processes.stream().anyMatch(ProcessHandle::isAlive)) {
			if (System.nanoTime() > deadline) {
				return false;
			}
			try {
				Thread.sleep(50);
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				return false;
			}
		}
		return true;
	}

	/**
	 * The superuser's password, generated on first use and kept beside the data
	 * directory, readable by its owner only.
	 */
	private static String password(Path file) throws IOException {
		if (Files.exists(file)) {
			ownerOnly(file);
			return Files.readString(file, StandardCharsets.US_ASCII).trim();
		}
		byte[] random = new byte[32];
		new SecureRandom().nextBytes(random);
		String password = Base64.getUrlEncoder().withoutPadding().encodeToString(random);
		Path temporary = Files.createTempFile(file.getParent(), file.getFileName().toString(), ".tmp",
				PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
		try (FileChannel channel = FileChannel.open(temporary, StandardOpenOption.WRITE)) {
			channel.write(StandardCharsets.US_ASCII.encode(password + "\n"));
			channel.force(true);
		}
		Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE);
		return password;
	}

	private static void ownerOnly(Path file) throws IOException {
		Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
	}

	/**
	 * A cluster created before passwords were required trusts every local connection:
	 * give the superuser the password, then require it of every connection.
	 */
	private static void requirePassword(EmbeddedPostgres postgres, Path directory, String password) throws IOException {
		Path hba = directory.resolve("pg_hba.conf");
		boolean trusts = Files.readAllLines(hba)
			.stream()
			.map(String::trim)
			.anyMatch((line) -> !line.startsWith("#") && line.matches(".*\\btrust\\b.*"));
		if (!trusts) {
			return;
		}
		logger.warn("The embedded database in {} trusted local connections; it now requires a password", directory);
		try (Connection connection = postgres.getPostgresDatabase().getConnection();
				Statement statement = connection.createStatement()) {
			// A generated base64url password: no quote can end the literal.
			statement.execute("alter user " + USER + " with password '" + password + "'");
			Files.writeString(hba, """
					# Written by Patchbay: every connection needs the password.
					local all all scram-sha-256
					host all all 127.0.0.1/32 scram-sha-256
					host all all ::1/128 scram-sha-256
					""");
			statement.execute("select pg_reload_conf()");
		}
		catch (SQLException ex) {
			throw new IOException("could not set the embedded database's password: " + ex.getMessage(), ex);
		}
	}

	private static long postmasterPid(Path directory) throws IOException {
		return postmaster(directory)
			.orElseThrow(() -> new IOException("PostgreSQL started but its pid file in " + directory + " is missing"))
			.pid();
	}

	/**
	 * A process that stops the server when this JVM is gone, however it went: it waits on
	 * a pipe that only this JVM holds open, and the kernel closes it when the JVM dies,
	 * even of SIGKILL. SIGINT is PostgreSQL's fast shutdown. Without a shell there is no
	 * watchdog, and the next start stops the orphan instead.
	 */
	private static Process watchdog(long postmasterPid) {
		List<String> command = new ArrayList<>();
		// A session of its own and no ear for SIGTERM, SIGINT or SIGHUP: a signal to the
		// JVM's process group (Ctrl-C, a supervisor) must not take it down before the
		// JVM.
		if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
			command.add("/usr/bin/setsid");
		}
		command.addAll(List.of("sh", "-c", "trap '' INT TERM HUP; read ignored; kill -INT " + postmasterPid));
		try {
			return new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.DISCARD)
				.redirectError(ProcessBuilder.Redirect.DISCARD)
				.start();
		}
		catch (IOException ex) {
			logger.warn("No watchdog for the embedded database: {}", ex.getMessage());
			return null;
		}
	}

}
