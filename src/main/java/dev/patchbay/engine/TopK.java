package dev.patchbay.engine;

/**
 * Exact top-k selection by magnitude in O(n): a radix select on the bits of |x|, whose
 * order as integers equals the order of the non-negative floats. Two histogram passes
 * (high 16 bits, then low 16 bits within the chosen bucket) replace the sort that torch's
 * {@code topk} does; bfloat16 data needs only the first.
 * <p>
 * A pass may be split over chunks and threads: each worker fills a {@link Histogram} of
 * its own from {@link Selection#newHistogram()}, and the selection folds them in.
 */
public final class TopK {

	private TopK() {
	}

	/**
	 * The cut that keeps exactly {@code k} elements: every |x| above {@code bits}, and
	 * the first {@code ties} elements (in index order) whose |x| equals it.
	 *
	 * @param bits the float bits of the k-th largest magnitude
	 * @param ties how many elements at exactly that magnitude are kept
	 * @param equal how many elements have exactly that magnitude
	 */
	public record Cut(int bits, long ties, long equal) {

		/** Keeps nothing. */
		public static final Cut NONE = new Cut(Integer.MAX_VALUE, 0, 0);

		/** Keeps everything. */
		public static final Cut ALL = new Cut(0, 0, 0);

		/** Whether every element at the cut survives, so that |x| ≥ cut decides alone. */
		public boolean keepsAllTies() {
			return this.ties == this.equal;
		}

	}

	/** The selection of the top {@code k} of {@code n} magnitudes, pass by pass. */
	public static Selection select(long n, long k) {
		return new Selection(n, k);
	}

	/**
	 * Where a selection stands: {@link #done()} once the cut is known, else another pass
	 * over every element is needed.
	 */
	public static final class Selection {

		private final long k;

		private final long[] counts = new long[1 << 16];

		private int lowBitsSeen;

		/** -1 during the first pass, then the high bits of the chosen bucket. */
		private int bucket = -1;

		private long above;

		private Cut cut;

		private Selection(long n, long k) {
			this.k = k;
			if (k <= 0) {
				this.cut = Cut.NONE;
			}
			else if (k >= n) {
				this.cut = Cut.ALL;
			}
		}

		public boolean done() {
			return this.cut != null;
		}

		/** The cut; only once {@link #done()}. */
		public Cut cut() {
			if (this.cut == null) {
				throw new IllegalStateException("the selection needs another pass");
			}
			return this.cut;
		}

		/** A histogram for one worker's share of the next pass. */
		public Histogram newHistogram() {
			return new Histogram(this.bucket);
		}

		/** Folds in a worker's histogram of the current pass. */
		public synchronized void add(Histogram histogram) {
			histogram.spill();
			for (int i = 0; i < this.counts.length; i++) {
				this.counts[i] += histogram.spilled[i];
			}
			this.lowBitsSeen |= histogram.lowBitsSeen;
		}

		/** Ends a pass once every worker's histogram is in. */
		public synchronized void endPass() {
			int value = this.counts.length - 1;
			while (this.above + this.counts[value] < this.k) {
				this.above += this.counts[value--];
			}
			if (this.bucket >= 0) {
				this.cut = new Cut((this.bucket << 16) | value, this.k - this.above, this.counts[value]);
			}
			else if (this.lowBitsSeen == 0) {
				// Every value has zero low bits (it was widened from bfloat16): a bucket
				// holds a single magnitude, so a second pass would find nothing new.
				this.cut = new Cut(value << 16, this.k - this.above, this.counts[value]);
			}
			else {
				this.bucket = value;
				java.util.Arrays.fill(this.counts, 0);
			}
		}

	}

	/**
	 * One worker's counts for one pass: of the high 16 bits of |x| in the first pass, of
	 * the low 16 bits of those in the chosen bucket in the second. Not thread-safe.
	 */
	public static final class Histogram {

		/** Spill to longs well before an int count could overflow. */
		private static final long SPILL_EVERY = 1L << 30;

		private final int bucket;

		private final int[] counts = new int[1 << 16];

		private final long[] spilled = new long[1 << 16];

		private long unspilled;

		private int lowBitsSeen;

		private Histogram(int bucket) {
			this.bucket = bucket;
		}

		/** Counts the first {@code count} values. */
		public void add(float[] values, int count) {
			int[] counts = this.counts;
			if (this.bucket < 0) {
				int seen = 0;
				for (int i = 0; i < count; i++) {
					int bits = magnitudeBits(values[i]);
					counts[bits >>> 16]++;
					seen |= bits;
				}
				this.lowBitsSeen |= seen & 0xFFFF;
			}
			else {
				int bucket = this.bucket;
				for (int i = 0; i < count; i++) {
					int bits = magnitudeBits(values[i]);
					if (bits >>> 16 == bucket) {
						counts[bits & 0xFFFF]++;
					}
				}
			}
			this.unspilled += count;
			if (this.unspilled >= SPILL_EVERY) {
				spill();
			}
		}

		private void spill() {
			for (int i = 0; i < this.counts.length; i++) {
				this.spilled[i] += this.counts[i];
				this.counts[i] = 0;
			}
			this.unspilled = 0;
		}

	}

	/** How many of the first {@code count} values have exactly the magnitude bits. */
	public static long countAt(float[] values, int count, int bits) {
		long equal = 0;
		for (int i = 0; i < count; i++) {
			if (magnitudeBits(values[i]) == bits) {
				equal++;
			}
		}
		return equal;
	}

	public static int magnitudeBits(float value) {
		return Float.floatToRawIntBits(value) & 0x7FFFFFFF;
	}

}
