package dev.patchbay.composition;

import java.nio.ByteBuffer;
import java.util.Random;

import dev.patchbay.engine.TensorData;
import dev.patchbay.engine.TensorEngine;
import dev.patchbay.engine.TopK;
import dev.patchbay.engine.Workspace;
import dev.patchbay.shared.DType;

/**
 * Runs single composition kernels for the benchmark harness, one call per timing, on the
 * engine's backend as the executor calls them.
 */
public final class KernelProbe {

	private KernelProbe() {
	}

	/** Times one top-k cut over the values, on one thread. */
	public static long topKNanos(float[] values, double density) {
		long start = System.nanoTime();
		TopK.Selection selection = TopK.select(values.length, (long) (density * values.length));
		while (!selection.done()) {
			TopK.Histogram histogram = selection.newHistogram();
			histogram.add(values, values.length);
			selection.add(histogram);
			selection.endPass();
		}
		return System.nanoTime() - start;
	}

	/** Times one LoRA (or DoRA) delta of a side×side layer. */
	public static long loraNanos(TensorEngine engine, int side, int rank, boolean dora) {
		Random random = new Random(side);
		float[] a = values(random, rank * side);
		float[] b = values(random, side * rank);
		float[] base = values(random, side * side);
		float[] magnitudes = values(random, side);
		try (Workspace workspace = engine.backend().workspace(side * side, 2)) {
			workspace.load(0, base, side * side);
			long start = System.nanoTime();
			workspace.lowRank(1, b, 0, side, rank, a, side, 2f);
			if (dora) {
				workspace.doraRescale(1, 0, magnitudes, 0, side, side, true);
			}
			return System.nanoTime() - start;
		}
	}

	/**
	 * Times the elementwise part of one chunk of a merge of three F32 terms: loads,
	 * weighted sum or TIES' disjoint merge, and the store of base + merged.
	 */
	public static long mergeNanos(TensorEngine engine, int elements, boolean ties) {
		Random random = new Random(elements);
		ByteBuffer[] inputs = new ByteBuffer[4];
		for (int i = 0; i < inputs.length; i++) {
			inputs[i] = TensorData.encode(values(random, elements), elements, DType.F32);
		}
		int[] terms = { 2, 3, 4 };
		float[] weights = { 0.5f, 0.3f, 0.2f };
		ByteBuffer out = ByteBuffer.allocateDirect(elements * 4);
		try (Workspace workspace = engine.backend().workspace(elements, 5)) {
			long start = System.nanoTime();
			workspace.load(0, inputs[0], DType.F32, elements, elements);
			for (int t = 0; t < terms.length; t++) {
				workspace.load(terms[t], inputs[t + 1], DType.F32, elements, elements);
			}
			if (ties) {
				workspace.disjointMerge(1, terms, weights, Workspace.SignElection.TOTAL, elements);
			}
			else {
				workspace.weightedSum(1, terms, weights, elements);
			}
			workspace.store(0, 1, elements, DType.F32, out, true);
			return System.nanoTime() - start;
		}
	}

	private static float[] values(Random random, int count) {
		float[] values = new float[count];
		for (int i = 0; i < count; i++) {
			values[i] = (float) random.nextGaussian() * 0.01f;
		}
		return values;
	}

}
