package dev.patchbay.composition;

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

	private void weightedSum(float[][] deltas, int count, float[] out) {
		for (int j = 0; j < count; j++) {
			float sum = 0;
			for (int term = 0; term < deltas.length; term++) {
				sum += deltas[term][j] * this.weights[term];
			}
			out[j] = sum;
		}
	}

	/**
	 * Zeroes all but each term's top-k magnitudes; ties at the cut are kept in index
	 * order.
	 */
	private void magnitudePrune(float[][] deltas, int count) {
		for (int term = 0; term < deltas.length; term++) {
			float[] delta = deltas[term];
			int cutBits = this.cuts[term].bits();
			long tieBudget = this.cuts[term].ties();
			for (int j = 0; j < count; j++) {
				int bits = TopK.magnitudeBits(delta[j]);
				if (bits < cutBits || (bits == cutBits && this.tiesKept[term]++ >= tieBudget)) {
					delta[j] = 0f;
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
		for (int j = 0; j < count; j++) {
			float magnitude = 0;
			for (float[] delta : deltas) {
				magnitude += (majoritySign == MajoritySign.TOTAL) ? delta[j] : Math.signum(delta[j]);
			}
			float majority = (magnitude >= 0) ? 1f : -1f;
			float sum = 0;
			int agreeing = 0;
			for (int term = 0; term < deltas.length; term++) {
				float value = deltas[term][j];
				if (Math.signum(value) == majority) {
					sum += value * this.weights[term];
					agreeing++;
				}
			}
			out[j] = sum / Math.max(agreeing, 1);
		}
	}

}
