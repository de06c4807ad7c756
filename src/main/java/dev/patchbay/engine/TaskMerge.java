package dev.patchbay.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import dev.patchbay.engine.Workspace.SignElection;
import dev.patchbay.shared.DType;

/**
 * {@code peft.utils.merge_utils} on whole tensors of one shape, for merges done outside a
 * composition's plan (combining LoRA adapters' factors or deltas): each term is pruned
 * (by magnitude, keeping the top {@code ⌊density·n⌋}, or at random, keeping each element
 * with probability density and rescaling by 1/density), then the weighted terms are
 * summed, or TIES elects a sign per element from the unweighted pruned terms and averages
 * the weighted ones that agree. One workspace holds the terms; closing releases it.
 */
public final class TaskMerge implements AutoCloseable {

	/** How each term is pruned before combining. */
	public enum Pruning {

		NONE, MAGNITUDE, RANDOM

	}

	private static final int MERGED = 0;

	private static final int FIRST_TERM = 1;

	private final Workspace workspace;

	private final int elements;

	private final int terms;

	/**
	 * @param elements the elements of every term
	 * @param terms how many terms
	 */
	public TaskMerge(TensorBackend backend, int elements, int terms) {
		this.workspace = backend.workspace(elements, FIRST_TERM + terms);
		this.elements = elements;
		this.terms = terms;
	}

	/** Loads a term's values. */
	public void load(int term, float[] values) {
		this.workspace.load(FIRST_TERM + term, values, this.elements);
	}

	/**
	 * Loads {@code scale · B · A} as a term, for B [rows, rank] and A [rank, columns]
	 * row-major: a LoRA delta.
	 */
	public void lowRank(int term, float[] b, int rows, int rank, float[] a, int columns, float scale) {
		this.workspace.lowRank(FIRST_TERM + term, b, 0, rows, rank, a, columns, scale);
	}

	/**
	 * Merges the loaded terms.
	 * @param election TIES' sign election, or null for a weighted sum
	 * @param keys per term, the counter stream's key of its random mask
	 * @return the merged tensor
	 */
	public float[] merge(float[] weights, Pruning pruning, double density, SignElection election, long seed,
			long[] keys) {
		int[] slots = new int[this.terms];
		for (int t = 0; t < this.terms; t++) {
			int slot = FIRST_TERM + t;
			slots[t] = slot;
			// PEFT's prune leaves a tensor whole from density 1 on.
			if (density >= 1 || pruning == Pruning.NONE) {
				continue;
			}
			if (pruning == Pruning.RANDOM) {
				this.workspace.pruneRandom(slot, this.elements, density, seed, keys[t], 0);
				continue;
			}
			TopK.Selection selection = TopK.select(this.elements, (long) (density * this.elements));
			while (!selection.done()) {
				TopK.Histogram histogram = selection.newHistogram();
				this.workspace.histogram(slot, this.elements, histogram);
				selection.add(histogram);
				selection.endPass();
			}
			TopK.Cut cut = selection.cut();
			this.workspace.pruneMagnitude(slot, this.elements, cut.bits(), cut.ties());
		}
		if (election != null) {
			this.workspace.disjointMerge(MERGED, slots, weights, election, this.elements);
		}
		else {
			this.workspace.weightedSum(MERGED, slots, weights, this.elements);
		}
		ByteBuffer bytes = this.workspace.store(MERGED, -1, this.elements, DType.F32,
				ByteBuffer.allocate(this.elements * 4).order(ByteOrder.LITTLE_ENDIAN), false);
		float[] merged = new float[this.elements];
		bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(merged);
		return merged;
	}

	@Override
	public void close() {
		this.workspace.close();
	}

}
