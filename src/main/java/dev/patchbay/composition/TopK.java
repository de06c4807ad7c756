package dev.patchbay.composition;

/**
 * Exact top-k selection by magnitude in O(n): a radix select on the bits of |x|, whose
 * order as integers equals the order of the non-negative floats. Two histogram passes
 * (high 16 bits, then low 16 bits within the chosen bucket) replace the sort that torch's
 * {@code topk} does; bfloat16 data needs only the first.
 */
final class TopK {

	private TopK() {
	}

	/**
	 * Feeds every element of the tensor, chunk by chunk, to a consumer. Called once per
	 * pass.
	 */
	@FunctionalInterface
	interface Chunks {

		void forEach(ChunkConsumer consumer) throws java.io.IOException;

	}

	@FunctionalInterface
	interface ChunkConsumer {

		void accept(float[] values, int count);

	}

	/**
	 * The cut that keeps exactly {@code k} elements: every |x| above {@code bits}, and
	 * the first {@code ties} elements (in index order) whose |x| equals it.
	 *
	 * @param bits the float bits of the k-th largest magnitude
	 * @param ties how many elements at exactly that magnitude are kept
	 * @param equal how many elements have exactly that magnitude
	 */
	record Cut(int bits, long ties, long equal) {

		static final Cut NONE = new Cut(Integer.MAX_VALUE, 0, 0);

		static final Cut ALL = new Cut(0, 0, 0);

		/** Whether every element at the cut survives, so that |x| ≥ cut decides alone. */
		boolean keepsAllTies() {
			return this.ties == this.equal;
		}

	}

	static Cut select(Chunks chunks, long n, long k) throws java.io.IOException {
		if (k <= 0) {
			return Cut.NONE;
		}
		if (k >= n) {
			return Cut.ALL;
		}
		int[] high = new int[1 << 16];
		int[] lowBitsSeen = { 0 };
		chunks.forEach((values, count) -> {
			int seen = 0;
			for (int i = 0; i < count; i++) {
				int bits = magnitudeBits(values[i]);
				high[bits >>> 16]++;
				seen |= bits;
			}
			lowBitsSeen[0] |= seen & 0xFFFF;
		});
		long above = 0;
		int bucket = high.length - 1;
		while (above + high[bucket] < k) {
			above += high[bucket--];
		}
		if (lowBitsSeen[0] == 0) {
			// Every value has zero low bits (it was widened from bfloat16): a bucket
			// holds
			// a single magnitude, so the second pass would find nothing new.
			return new Cut(bucket << 16, k - above, high[bucket]);
		}
		int[] low = new int[1 << 16];
		int chosen = bucket;
		chunks.forEach((values, count) -> {
			for (int i = 0; i < count; i++) {
				int bits = magnitudeBits(values[i]);
				if (bits >>> 16 == chosen) {
					low[bits & 0xFFFF]++;
				}
			}
		});
		int value = low.length - 1;
		while (above + low[value] < k) {
			above += low[value--];
		}
		return new Cut((chosen << 16) | value, k - above, low[value]);
	}

	static int magnitudeBits(float value) {
		return Float.floatToRawIntBits(value) & 0x7FFFFFFF;
	}

}
