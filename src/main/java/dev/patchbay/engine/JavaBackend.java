package dev.patchbay.engine;

/** Composition math in plain Java loops on the host; the fastest on the CPU. */
final class JavaBackend implements TensorBackend {

	@Override
	public String name() {
		return "java";
	}

	@Override
	public Workspace workspace(int capacity, int slots) {
		return new JavaWorkspace(capacity, slots);
	}

}
