package dev.patchbay.engine;

import ai.djl.ndarray.NDManager;

/**
 * Composition math in libtorch through DJL, on the engine's device: the backend for a
 * GPU.
 *
 * @param root the engine's manager, on its device; each workspace opens its own child
 */
record DjlBackend(NDManager root) implements TensorBackend {

	@Override
	public String name() {
		return "djl";
	}

	@Override
	public Workspace workspace(int capacity, int slots) {
		return new DjlWorkspace(this.root, capacity, slots);
	}

}
