package dev.patchbay.composition;

import java.io.IOException;

import org.springframework.context.ApplicationContext;

import dev.patchbay.engine.TensorEngine;
import dev.patchbay.storage.BlobOutput;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.StagedBlob;

/**
 * Runs a recipe through the planner and the executor into a staged blob, as a composition
 * worker does but without the HTTP layer, for the benchmark harness.
 */
public final class PlanProbe {

	private PlanProbe() {
	}

	/**
	 * Composes into a staged blob, made durable as a worker does unless {@code durable}
	 * is false, then discarded; returns the bytes written.
	 */
	public static long compose(ApplicationContext context, CompositionRequest request, boolean durable)
			throws IOException {
		return compose(context, request, durable, context.getBean(CompositionProperties.class).chunkElements());
	}

	/** The same, with another chunk size than the service's. */
	public static long compose(ApplicationContext context, CompositionRequest request, boolean durable,
			int chunkElements) throws IOException {
		Plan plan = context.getBean(Planner.class).plan(Recipe.from(request));
		try (BlobOutput output = context.getBean(BlobStore.class).create()) {
			new PlanExecutor(plan, context.getBean(TensorEngine.class), chunkElements).execute(output, (tensors) -> {
			});
			if (!durable) {
				return output.written();
			}
			try (StagedBlob staged = output.finish()) {
				return staged.size();
			}
		}
	}

}
