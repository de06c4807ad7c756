package dev.patchbay.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The Python peers of {@code src/test/bench}, which a Python user would script: each one
 * reads the same input files through mmap, tensor by tensor, and writes the same bytes.
 * They run one at a time through {@code peer_run.py}, which times them inside the
 * interpreter after numpy and torch are imported, as the service is timed inside its
 * running JVM.
 */
final class Peers {

	/**
	 * Set on some processors for older OpenBLAS builds; they slow a current numpy, so the
	 * peers run without both.
	 */
	private static final List<String> OPENBLAS_OVERRIDES = List.of("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE");

	private final String python;

	private final Path scripts;

	private final String numpy;

	private final String torch;

	/** The BLAS numpy and torch run, as threadpoolctl names it, or null. */
	private final String blas;

	private Peers(String python, Path scripts, String numpy, String torch, String blas) {
		this.python = python;
		this.scripts = scripts;
		this.numpy = numpy;
		this.torch = torch;
		this.blas = blas;
	}

	/**
	 * The peers as this machine can run them; a missing interpreter or module leaves
	 * those peers unavailable rather than failing.
	 */
	static Peers find(String python, Path scripts) {
		String[] versions = { "-", "-", "-" };
		try {
			versions = new Peers(python, scripts, null, null, null).exec(List.of("--versions")).trim().split("\t");
		}
		catch (RuntimeException ex) {
			// No interpreter, or it cannot run peer_run.py: no peers.
		}
		return new Peers(python, scripts, present(versions[0]), present(versions[1]), present(versions[2]));
	}

	private static String present(String version) {
		return version.equals("-") ? null : version;
	}

	/** Whether the peer needing this module ("numpy" or "torch") can run. */
	boolean has(String module) {
		return (module.equals("numpy") ? this.numpy : this.torch) != null;
	}

	/** One line on what runs the peers, and which are skipped. */
	String describe() {
		if (this.numpy == null && this.torch == null) {
			return "peers skipped: " + this.python + " cannot import numpy or torch (Debian: python3-numpy, "
					+ "python3-torch); Patchbay is measured against the floors only";
		}
		String line = "peers: " + this.python + " with numpy " + ((this.numpy != null) ? this.numpy : "absent")
				+ " and torch " + ((this.torch != null) ? this.torch : "absent") + " on BLAS "
				+ ((this.blas != null) ? this.blas : "unknown") + ", timed inside the interpreter after its imports, "
				+ String.join(" and ", OPENBLAS_OVERRIDES) + " unset";
		if (this.numpy == null || this.torch == null) {
			line += "; peers needing " + ((this.numpy == null) ? "numpy" : "torch") + " skipped";
		}
		return line;
	}

	/**
	 * Runs a peer script with its arguments.
	 * @return the peer's seconds as it timed itself, and the whole process's
	 */
	Timing run(String script, List<String> arguments) {
		List<String> command = new ArrayList<>();
		command.add(this.scripts.resolve(script).toString());
		command.addAll(arguments);
		long start = System.nanoTime();
		String output = exec(command);
		double process = (System.nanoTime() - start) / 1e9;
		String[] lines = output.trim().split("\n");
		return new Timing(Double.parseDouble(lines[lines.length - 1].trim()), process);
	}

	private String exec(List<String> arguments) {
		List<String> command = new ArrayList<>();
		command.add(this.python);
		command.add(this.scripts.resolve("peer_run.py").toString());
		command.addAll(arguments);
		ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
		OPENBLAS_OVERRIDES.forEach(builder.environment()::remove);
		try {
			Path log = Files.createTempFile("patchbay-peer", ".log");
			try {
				Process process = builder.redirectOutput(log.toFile()).start();
				int exit = process.waitFor();
				String output = Files.readString(log, StandardCharsets.UTF_8);
				if (exit != 0) {
					throw new IllegalStateException("peer " + command + " exited " + exit + ": " + output);
				}
				return output;
			}
			finally {
				Files.deleteIfExists(log);
			}
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
	}

	/**
	 * One peer run.
	 *
	 * @param seconds the peer's work as it timed itself
	 * @param processSeconds the whole process, with interpreter start and imports
	 */
	record Timing(double seconds, double processSeconds) {
	}

}
