package dev.patchbay.engine;

/** The golden suite on the Java backend. */
class JavaBackendTests extends TensorBackendContract {

	private final TensorBackend backend = new JavaBackend();

	@Override
	TensorBackend backend() {
		return this.backend;
	}

}
