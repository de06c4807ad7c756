package dev.patchbay.engine;

/**
 * How much a delta changes the weights it is added to, accumulated chunk by chunk: the
 * squared norms of the base and the delta, the delta's largest magnitude and zeros, and
 * how many patched values are not finite. One per worker, folded with {@link #add}.
 */
public final class ChangeStatistics {

	private double baseSquares;

	private double deltaSquares;

	private double maxAbs;

	private long zeros;

	private long elements;

	private long nonFinite;

	/**
	 * Counts one chunk: {@code delta} and {@code base} hold {@code count} values each.
	 */
	void count(float[] delta, float[] base, int count) {
		double b2 = 0;
		double d2 = 0;
		double max = this.maxAbs;
		long zero = 0;
		long bad = 0;
		for (int i = 0; i < count; i++) {
			float d = delta[i];
			float b = base[i];
			b2 += (double) b * b;
			d2 += (double) d * d;
			float magnitude = Math.abs(d);
			// A NaN compares false, so it never becomes the maximum; it is counted below.
			if (magnitude > max) {
				max = magnitude;
			}
			if (d == 0f) {
				zero++;
			}
			if (!Float.isFinite(b + d)) {
				bad++;
			}
		}
		this.baseSquares += b2;
		this.deltaSquares += d2;
		this.maxAbs = max;
		this.zeros += zero;
		this.elements += count;
		this.nonFinite += bad;
	}

	/** Folds another worker's counts into these. */
	public synchronized void add(ChangeStatistics other) {
		this.baseSquares += other.baseSquares;
		this.deltaSquares += other.deltaSquares;
		this.maxAbs = Math.max(this.maxAbs, other.maxAbs);
		this.zeros += other.zeros;
		this.elements += other.elements;
		this.nonFinite += other.nonFinite;
	}

	/** Σ base², in double precision. */
	public double baseSquares() {
		return this.baseSquares;
	}

	/** Σ delta², in double precision. */
	public double deltaSquares() {
		return this.deltaSquares;
	}

	/** max |delta|; 0 for no elements. */
	public double maxAbs() {
		return this.maxAbs;
	}

	/** Elements where the delta is exactly zero. */
	public long zeros() {
		return this.zeros;
	}

	public long elements() {
		return this.elements;
	}

	/** Elements where base + delta is NaN or infinite. */
	public long nonFinite() {
		return this.nonFinite;
	}

}
