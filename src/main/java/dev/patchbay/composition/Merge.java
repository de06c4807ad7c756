package dev.patchbay.composition;

import java.util.Arrays;

import dev.patchbay.composition.MergeMethod.MajoritySign;

/**
 * Combines the terms' deltas for one chunk of one tensor, in float32, in the same order
 * of operations as {@code peft.utils.merge_utils} so results agree to float rounding.
 * Plain Java loops: for elementwise work on the CPU they are as fast as DJL and allocate
 * nothing.
 */
final class Merge {

	private final MergeMethod method;

	private final float[] weights;

	private final TopK.Cut[] cuts;

	private final long[] tiesKept;

	private final long[] nameKeys;

	// Scratch for the sign election, grown to the largest chunk seen.
	private float[] votes = new float[0];

	private float[] agreeing = new float[0];

	/**
	 * @param cuts per-term magnitude cuts for the pruning methods, else null
	 * @param tensorName keys the DARE random stream together with the seed
	 */
	Merge(MergeMethod method, float[] weights, TopK.Cut[] cuts, String tensorName) {
		this.method = method;
		this.weights = weights;
		this.cuts = cuts;
		this.tiesKept = new long[weights.length];
		this.nameKeys = new long[weights.length];
		for (int term = 0; term < weights.length; term++) {
			this.nameKeys[term] = CounterRandom.key(tensorName, term);
		}
	}

	/**
	 * Merges one chunk. The deltas are pruned in place.
	 * @param deltas per term, the chunk's effective deltas
	 * @param first index in the tensor of the chunk's first element
	 * @param count elements in the chunk
	 * @param out receives the merged delta
	 */
	void apply(float[][] deltas, long first, int count, float[] out) {
		switch (this.method.pruning()) {
			case MAGNITUDE -> magnitudePrune(deltas, count);
			case RANDOM -> randomPrune(deltas, first, count, this.method.density(), this.method.seed());
			case NONE -> {
			}
		}
		if (this.method.majoritySign() != null) {
			disjointMerge(deltas, count, this.method.majoritySign(), out);
		}
		else {
			weightedSum(deltas, count, out);
		}
	}

	// Loops run term by term over contiguous arrays so that the JIT vectorizes them; per
	// element
	// the additions still happen in term order, as in merge_utils.
	private void weightedSum(float[][] deltas, int count, float[] out) {
		Arrays.fill(out, 0, count, 0f);
		for (int term = 0; term < deltas.length; term++) {
			float[] delta = deltas[term];
			float weight = this.weights[term];
			for (int j = 0; j < count; j++) {
				out[j] += delta[j] * weight;
			}
		}
	}

	/**
	 * Zeroes all but each term's top-k magnitudes; ties at the cut are kept in index
	 * order.
	 */
	private void magnitudePrune(float[][] deltas, int count) {
		for (int term = 0; term < deltas.length; term++) {
			float[] delta = deltas[term];
			TopK.Cut cut = this.cuts[term];
			if (TopK.Cut.NONE.equals(cut)) {
				Arrays.fill(delta, 0, count, 0f);
				continue;
			}
			// keep = |x| >= cut, branch-free in float arithmetic, so that it vectorizes;
			// a
			// data-dependent branch here is mispredicted for most elements.
			float threshold = Float.intBitsToFloat(cut.bits());
			for (int j = 0; j < count; j++) {
				delta[j] *= 1f - step(threshold - Math.abs(delta[j]));
			}
			if (!cut.keepsAllTies()) {
				// Of the elements exactly at the cut only the first ties() survive, in
				// index order. They are few, so this branch is predictable.
				int cutBits = cut.bits();
				for (int j = 0; j < count; j++) {
					if (TopK.magnitudeBits(delta[j]) == cutBits && this.tiesKept[term]++ >= cut.ties()) {
						delta[j] = 0f;
					}
				}
			}
		}
	}

	private void randomPrune(float[][] deltas, long first, int count, double density, long seed) {
		float rescale = (float) (1.0 / density);
		for (int term = 0; term < deltas.length; term++) {
			float[] delta = deltas[term];
			for (int j = 0; j < count; j++) {
				boolean keep = CounterRandom.uniform(seed, this.nameKeys[term], first + j) < density;
				delta[j] = keep ? delta[j] * rescale : 0f;
			}
		}
	}

	/**
	 * TIES: elect a sign per element from the (pruned, unweighted) deltas, then average
	 * the weighted deltas whose sign agrees. Zeros have sign 0 and never count.
	 */
	private void disjointMerge(float[][] deltas, int count, MajoritySign majoritySign, float[] out) {
		if (this.votes.length < count) {
			this.votes = new float[count];
			this.agreeing = new float[count];
		}
		float[] votes = this.votes;
		float[] agreeing = this.agreeing;
		Arrays.fill(votes, 0, count, 0f);
		for (float[] delta : deltas) {
			if (majoritySign == MajoritySign.TOTAL) {
				for (int j = 0; j < count; j++) {
					votes[j] += delta[j];
				}
			}
			else {
				for (int j = 0; j < count; j++) {
					votes[j] += step(delta[j]) - step(-delta[j]);
				}
			}
		}
		// The majority is + where votes >= 0, else -: as ±1, so that agreement is a
		// product.
		for (int j = 0; j < count; j++) {
			votes[j] = 1f - 2f * step(-votes[j]);
		}
		Arrays.fill(out, 0, count, 0f);
		Arrays.fill(agreeing, 0, count, 0f);
		for (int term = 0; term < deltas.length; term++) {
			float[] delta = deltas[term];
			float weight = this.weights[term];
			for (int j = 0; j < count; j++) {
				// 1 where the delta has the majority's sign, 0 otherwise (a zero agrees
				// with neither).
				float agrees = step(delta[j] * votes[j]);
				out[j] += agrees * delta[j] * weight;
				agreeing[j] += agrees;
			}
		}
		for (int j = 0; j < count; j++) {
			out[j] /= Math.max(agreeing[j], 1f);
		}
	}

	/**
	 * 1 for x > 0, else 0 (also for -0), exactly and without branches or bit casts, so
	 * that the loops using it vectorize: the smallest positive float times 2^254 is at
	 * least 1, and min / max clamp. Overflow to infinity clamps too; a finite x never
	 * gives NaN.
	 */
	private static float step(float x) {
		return Math.min(1f, Math.max(0f, x * 0x1p127f * 0x1p127f));
	}

}
