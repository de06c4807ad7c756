package dev.patchbay.engine;

/**
 * Where composition math runs: a backend opens {@link Workspace}s, one per thread, each
 * reused for chunk after chunk. Every backend passes the same golden suite, so the choice
 * between them is one of speed alone.
 */
public sealed interface TensorBackend permits JavaBackend, DjlBackend {

	/** The backend's name, as in {@code patchbay.engine.backend}. */
	String name();

	/**
	 * Opens a workspace of {@code slots} float32 slots of {@code capacity} elements each;
	 * the caller closes it.
	 */
	Workspace workspace(int capacity, int slots);

}
