package dev.patchbay.engine;

import java.nio.ByteBuffer;
import java.util.Arrays;

import dev.patchbay.shared.DType;

/**
 * The Java backend's workspace: slots are float arrays and every operation is a plain
 * loop, written term by term over contiguous arrays so that the JIT vectorizes it. For
 * elementwise work on the CPU these are as fast as DJL, allocate nothing and need no
 * copies across JNI; LoRA's low-rank product accumulates rows of A into one contiguous
 * output row at a time.
 */
final class JavaWorkspace implements Workspace {

	private final float[][] slots;

	/** BF16 words on their way in or out, reused so that a chunk allocates nothing. */
	private final short[] words;

	// Scratch for the sign election and for LoRA products, grown on demand.
	private float[] votes = new float[0];

	private float[] agreeing = new float[0];

	private float[] product = new float[0];

	private float[] row = new float[0];

	/** LoRA's A split into rows, and the array it was split from. */
	private float[][] factorRows;

	private float[] factorsOf;

	/** CP-LoRA's flattened right factor, and the in factor it was built from. */
	private float[] cpProduct;

	private float[] cpFactorsOf;

	private double[] norms = new double[0];

	JavaWorkspace(int capacity, int slots) {
		this.slots = new float[slots][capacity];
		this.words = new short[capacity];
	}

	@Override
	public int capacity() {
		return this.words.length;
	}

	@Override
	public void load(int slot, ByteBuffer data, DType dtype, int count, int length) {
		float[] out = this.slots[slot];
		TensorData.decode(data, dtype, out, count, this.words);
		Arrays.fill(out, count, length, 0f);
	}

	@Override
	public void load(int slot, float[] values, int count) {
		System.arraycopy(values, 0, this.slots[slot], 0, count);
	}

	@Override
	public void dequantize(int slot, Quantizer.Codes codes, long first, int count) {
		codes.decode(first, count, this.slots[slot]);
	}

	@Override
	public void lowRank(int slot, float[] b, int first, int rows, int rank, float[] a, int columns, float scale) {
		if (a != this.factorsOf) {
			// A is the same for every chunk of a tensor: split it into rows once.
			this.factorRows = new float[rank][];
			for (int r = 0; r < rank; r++) {
				this.factorRows[r] = Arrays.copyOfRange(a, r * columns, (r + 1) * columns);
			}
			this.factorsOf = a;
		}
		scaledProduct(b, first * rank, rows, rank, this.factorRows, columns, scale, this.slots[slot]);
	}

	@Override
	public void cpLowRank(int slot, float[] out, int first, int rows, int rank, float[] in, int inChannels, float[] kh,
			int height, float[] kw, int width, float scale) {
		if (in != this.cpFactorsOf) {
			// The Khatri-Rao product of in, kh and kw is the same for every chunk: it is
			// the A of an ordinary low-rank product, [rank, in·kh·kw].
			this.cpProduct = khatriRao(rank, in, inChannels, kh, height, kw, width);
			this.cpFactorsOf = in;
		}
		lowRank(slot, out, first, rows, rank, this.cpProduct, inChannels * height * width, scale);
	}

	/**
	 * {@code a[r, (i, h, w)] = in[i, r] · kh[h, r] · kw[w, r]}, row-major: the right
	 * factor of a CP decomposition flattened like a conv kernel's rows.
	 */
	static float[] khatriRao(int rank, float[] in, int inChannels, float[] kh, int height, float[] kw, int width) {
		int columns = inChannels * height * width;
		float[] a = new float[rank * columns];
		for (int r = 0; r < rank; r++) {
			int j = r * columns;
			for (int i = 0; i < inChannels; i++) {
				for (int h = 0; h < height; h++) {
					float ih = in[i * rank + r] * kh[h * rank + r];
					for (int w = 0; w < width; w++) {
						a[j++] = ih * kw[w * rank + r];
					}
				}
			}
		}
		return a;
	}

	@Override
	public void lowRankTransposed(int slot, float[] b, int columns, int rank, float[] a, int inner, int first, int rows,
			float scale) {
		// Rows [first, first + rows) of the [in, out] delta are columns of B·A: take
		// those columns of A, multiply, and transpose into the slot.
		float[][] aColumns = new float[rank][];
		for (int r = 0; r < rank; r++) {
			aColumns[r] = Arrays.copyOfRange(a, r * inner + first, r * inner + first + rows);
		}
		if (this.product.length < columns * rows) {
			this.product = new float[columns * rows];
		}
		float[] product = this.product;
		scaledProduct(b, 0, columns, rank, aColumns, rows, scale, product);
		float[] out = this.slots[slot];
		for (int o = 0; o < columns; o++) {
			for (int i = 0; i < rows; i++) {
				out[i * columns + o] = product[o * rows + i];
			}
		}
	}

	/**
	 * {@code out[m, n] = scale · left[m, k] · right[k, n]}, with left's rows starting at
	 * {@code leftOffset} and right given as its rows. Each output row accumulates rows of
	 * right times their factors, four ranks per pass, in a scratch row: every array is
	 * indexed by the same {@code j}, which is what lets the JIT vectorize the loop (with
	 * offsets it cannot rule out that the arrays overlap). The row is then scaled as PEFT
	 * scales the product.
	 */
	private void scaledProduct(float[] left, int leftOffset, int m, int k, float[][] right, int n, float scale,
			float[] out) {
		if (this.row.length < n) {
			this.row = new float[n];
		}
		float[] row = this.row;
		for (int i = 0; i < m; i++) {
			int factors = leftOffset + i * k;
			Arrays.fill(row, 0, n, 0f);
			int p = 0;
			for (; p + 4 <= k; p += 4) {
				float f0 = left[factors + p];
				float f1 = left[factors + p + 1];
				float f2 = left[factors + p + 2];
				float f3 = left[factors + p + 3];
				float[] r0 = right[p];
				float[] r1 = right[p + 1];
				float[] r2 = right[p + 2];
				float[] r3 = right[p + 3];
				for (int j = 0; j < n; j++) {
					row[j] += f0 * r0[j] + f1 * r1[j] + f2 * r2[j] + f3 * r3[j];
				}
			}
			for (; p < k; p++) {
				float factor = left[factors + p];
				float[] r0 = right[p];
				for (int j = 0; j < n; j++) {
					row[j] += factor * r0[j];
				}
			}
			for (int j = 0; j < n; j++) {
				row[j] *= scale;
			}
			System.arraycopy(row, 0, out, i * n, n);
		}
	}

	@Override
	public void doraRescale(int delta, int base, float[] magnitudes, int firstRow, int rows, int columns,
			boolean channelsAreRows) {
		float[] out = this.slots[delta];
		float[] w = this.slots[base];
		int count = rows * columns;
		for (int i = 0; i < count; i++) {
			out[i] += w[i];
		}
		if (!channelsAreRows) {
			if (this.norms.length < columns) {
				this.norms = new double[columns];
			}
			double[] norms = this.norms;
			Arrays.fill(norms, 0, columns, 0);
			for (int i = 0; i < count; i++) {
				norms[i % columns] += (double) out[i] * out[i];
			}
			for (int i = 0; i < count; i++) {
				out[i] = out[i] * (float) (magnitudes[i % columns] / Math.sqrt(norms[i % columns])) - w[i];
			}
			return;
		}
		for (int r = 0; r < rows; r++) {
			double norm = 0;
			for (int c = 0; c < columns; c++) {
				float v = out[r * columns + c];
				norm += (double) v * v;
			}
			float factor = (float) (magnitudes[firstRow + r] / Math.sqrt(norm));
			for (int c = 0; c < columns; c++) {
				int i = r * columns + c;
				out[i] = out[i] * factor - w[i];
			}
		}
	}

	@Override
	public void subtract(int slot, int other, int count) {
		float[] out = this.slots[slot];
		float[] x = this.slots[other];
		for (int i = 0; i < count; i++) {
			out[i] -= x[i];
		}
	}

	@Override
	public void histogram(int slot, int count, TopK.Histogram histogram) {
		histogram.add(this.slots[slot], count);
	}

	@Override
	public long countAt(int slot, int count, int bits) {
		return TopK.countAt(this.slots[slot], count, bits);
	}

	@Override
	public void pruneMagnitude(int slot, int count, int cutBits, long keepAtCut) {
		pruneMagnitude(this.slots[slot], count, cutBits, keepAtCut);
	}

	static void pruneMagnitude(float[] delta, int count, int cutBits, long keepAtCut) {
		if (cutBits == TopK.Cut.NONE.bits()) {
			Arrays.fill(delta, 0, count, 0f);
			return;
		}
		// keep = |x| >= cut, branch-free in float arithmetic so that it vectorizes; a
		// data-dependent branch here is mispredicted for most elements.
		float threshold = Float.intBitsToFloat(cutBits);
		for (int j = 0; j < count; j++) {
			delta[j] *= 1f - step(threshold - Math.abs(delta[j]));
		}
		if (keepAtCut != Long.MAX_VALUE) {
			// Of the elements exactly at the cut only the first keepAtCut survive, in
			// index order. They are few, so this branch is predictable.
			long kept = 0;
			for (int j = 0; j < count; j++) {
				if (TopK.magnitudeBits(delta[j]) == cutBits && kept++ >= keepAtCut) {
					delta[j] = 0f;
				}
			}
		}
	}

	@Override
	public void pruneRandom(int slot, int count, double density, long seed, long key, long first) {
		float[] delta = this.slots[slot];
		float rescale = (float) (1.0 / density);
		for (int j = 0; j < count; j++) {
			boolean keep = CounterRandom.uniform(seed, key, first + j) < density;
			delta[j] = keep ? delta[j] * rescale : 0f;
		}
	}

	@Override
	public void weightedSum(int out, int[] terms, float[] weights, int count) {
		float[] sum = this.slots[out];
		Arrays.fill(sum, 0, count, 0f);
		for (int t = 0; t < terms.length; t++) {
			float[] delta = this.slots[terms[t]];
			float weight = weights[t];
			for (int j = 0; j < count; j++) {
				sum[j] += delta[j] * weight;
			}
		}
	}

	@Override
	public void disjointMerge(int out, int[] terms, float[] weights, SignElection election, int count) {
		if (this.votes.length < count) {
			this.votes = new float[count];
			this.agreeing = new float[count];
		}
		float[] votes = this.votes;
		float[] agreeing = this.agreeing;
		Arrays.fill(votes, 0, count, 0f);
		for (int term : terms) {
			float[] delta = this.slots[term];
			if (election == SignElection.TOTAL) {
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
		float[] merged = this.slots[out];
		Arrays.fill(merged, 0, count, 0f);
		Arrays.fill(agreeing, 0, count, 0f);
		for (int t = 0; t < terms.length; t++) {
			float[] delta = this.slots[terms[t]];
			float weight = weights[t];
			for (int j = 0; j < count; j++) {
				// 1 where the delta has the majority's sign, 0 otherwise (a zero agrees
				// with neither).
				float agrees = step(delta[j] * votes[j]);
				merged[j] += agrees * delta[j] * weight;
				agreeing[j] += agrees;
			}
		}
		for (int j = 0; j < count; j++) {
			merged[j] /= Math.max(agreeing[j], 1f);
		}
	}

	@Override
	public void add(int slot, int other, int count) {
		float[] out = this.slots[slot];
		float[] x = this.slots[other];
		for (int i = 0; i < count; i++) {
			out[i] += x[i];
		}
	}

	@Override
	public void gram(int[] slots, int count, double[] gram) {
		float[][] vectors = new float[slots.length][];
		for (int i = 0; i < slots.length; i++) {
			vectors[i] = this.slots[slots[i]];
		}
		gram(vectors, count, gram);
	}

	static void gram(float[][] vectors, int count, double[] gram) {
		int n = vectors.length;
		for (int i = 0; i < n; i++) {
			for (int j = i; j < n; j++) {
				double dot = dot(vectors[i], vectors[j], 0, count);
				gram[i * n + j] += dot;
				if (i != j) {
					gram[j * n + i] += dot;
				}
			}
		}
	}

	private static double dot(float[] a, float[] b, int from, int to) {
		double sum = 0;
		for (int k = from; k < to; k++) {
			sum += (double) a[k] * b[k];
		}
		return sum;
	}

	@Override
	public void vectorGram(int[] slots, int count, int length, double[] grams) {
		float[][] vectors = new float[slots.length][];
		for (int i = 0; i < slots.length; i++) {
			vectors[i] = this.slots[slots[i]];
		}
		vectorGram(vectors, count, length, grams);
	}

	static void vectorGram(float[][] vectors, int count, int length, double[] grams) {
		int n = vectors.length;
		for (int v = 0; v * length < count; v++) {
			int from = v * length;
			for (int i = 0; i < n; i++) {
				for (int j = i; j < n; j++) {
					double dot = dot(vectors[i], vectors[j], from, from + length);
					grams[v * n * n + i * n + j] += dot;
					if (i != j) {
						grams[v * n * n + j * n + i] += dot;
					}
				}
			}
		}
	}

	@Override
	public void vectorWeightedSum(int out, int[] terms, float[] coefficients, int count, int length) {
		float[][] vectors = new float[terms.length][];
		for (int i = 0; i < terms.length; i++) {
			vectors[i] = this.slots[terms[i]];
		}
		vectorWeightedSum(this.slots[out], vectors, coefficients, count, length);
	}

	static void vectorWeightedSum(float[] sum, float[][] vectors, float[] coefficients, int count, int length) {
		int n = vectors.length;
		Arrays.fill(sum, 0, count, 0f);
		for (int v = 0; v * length < count; v++) {
			for (int t = 0; t < n; t++) {
				float c = coefficients[v * n + t];
				float[] x = vectors[t];
				for (int k = v * length; k < (v + 1) * length; k++) {
					sum[k] += c * x[k];
				}
			}
		}
	}

	@Override
	public void columnGram(int[] slots, int count, int columns, double[] grams) {
		float[][] vectors = new float[slots.length][];
		for (int i = 0; i < slots.length; i++) {
			vectors[i] = this.slots[slots[i]];
		}
		columnGram(vectors, count, columns, grams);
	}

	static void columnGram(float[][] vectors, int count, int columns, double[] grams) {
		int n = vectors.length;
		for (int k = 0; k < count; k++) {
			int base = (k % columns) * n * n;
			for (int i = 0; i < n; i++) {
				double x = vectors[i][k];
				for (int j = 0; j < n; j++) {
					grams[base + i * n + j] += x * vectors[j][k];
				}
			}
		}
	}

	@Override
	public void columnWeightedSum(int out, int[] terms, float[] coefficients, int count, int columns) {
		float[][] vectors = new float[terms.length][];
		for (int i = 0; i < terms.length; i++) {
			vectors[i] = this.slots[terms[i]];
		}
		columnWeightedSum(this.slots[out], vectors, coefficients, count, columns);
	}

	static void columnWeightedSum(float[] sum, float[][] vectors, float[] coefficients, int count, int columns) {
		int n = vectors.length;
		for (int k = 0; k < count; k++) {
			int column = k % columns;
			float value = 0;
			for (int t = 0; t < n; t++) {
				value += coefficients[column * n + t] * vectors[t][k];
			}
			sum[k] = value;
		}
	}

	@Override
	public double l1(int slot, int count) {
		return l1(this.slots[slot], count);
	}

	static double l1(float[] x, int count) {
		double sum = 0;
		for (int i = 0; i < count; i++) {
			sum += Math.abs(x[i]);
		}
		return sum;
	}

	@Override
	public void changeStatistics(int delta, int base, int count, ChangeStatistics into) {
		into.count(this.slots[delta], this.slots[base], count);
	}

	@Override
	public void squaredNorms(int slot, int rows, int columns, boolean perRow, double[] sums, int offset) {
		squaredNorms(this.slots[slot], rows, columns, perRow, sums, offset);
	}

	static void squaredNorms(float[] x, int rows, int columns, boolean perRow, double[] sums, int offset) {
		for (int r = 0; r < rows; r++) {
			int from = r * columns;
			if (perRow) {
				sums[offset + r] += dot(x, x, from, from + columns);
			}
			else {
				for (int c = 0; c < columns; c++) {
					double value = x[from + c];
					sums[c] += value * value;
				}
			}
		}
	}

	@Override
	public void gramProduct(int slot, int rows, int columns, float[] vector, double[] into) {
		gramProduct(this.slots[slot], rows, columns, vector, into);
	}

	static void gramProduct(float[] x, int rows, int columns, float[] vector, double[] into) {
		for (int r = 0; r < rows; r++) {
			int from = r * columns;
			double projection = 0;
			for (int c = 0; c < columns; c++) {
				projection += (double) x[from + c] * vector[c];
			}
			for (int c = 0; c < columns; c++) {
				into[c] += projection * x[from + c];
			}
		}
	}

	@Override
	public void maskRandom(int slot, int count, double density, long seed, long key, long first, float scale) {
		maskRandom(this.slots[slot], count, density, seed, key, first, scale);
	}

	static void maskRandom(float[] x, int count, double density, long seed, long key, long first, float scale) {
		for (int j = 0; j < count; j++) {
			boolean keep = CounterRandom.uniform(seed, key, first + j) < density;
			x[j] = keep ? x[j] * scale : 0f;
		}
	}

	@Override
	public void consensusMerge(int out, int[] terms, float[] weights, boolean normalize, float lambda, int count) {
		float[][] vectors = new float[terms.length][];
		for (int i = 0; i < terms.length; i++) {
			vectors[i] = this.slots[terms[i]];
		}
		consensusMerge(this.slots[out], vectors, weights, normalize, lambda, count);
	}

	static void consensusMerge(float[] merged, float[][] deltas, float[] weights, boolean normalize, float lambda,
			int count) {
		for (int j = 0; j < count; j++) {
			float total = 0;
			for (int t = 0; t < deltas.length; t++) {
				total += deltas[t][j] * weights[t];
			}
			float majority = (total >= 0) ? 1f : -1f;
			float mixed = 0;
			float divisor = 0;
			for (int t = 0; t < deltas.length; t++) {
				float weighted = deltas[t][j] * weights[t];
				if (Math.signum(weighted) == majority) {
					mixed += weighted;
					divisor += weights[t];
				}
			}
			if (normalize) {
				mixed /= (divisor == 0) ? 1f : divisor;
			}
			merged[j] = (lambda != 1f) ? mixed * lambda : mixed;
		}
	}

	@Override
	public void nearswap(int slot, float t, int count) {
		nearswap(this.slots[slot], t, count);
	}

	static void nearswap(float[] delta, float t, int count) {
		for (int j = 0; j < count; j++) {
			float w = Math.min(1f, Math.max(0f, t / Math.max(Math.abs(delta[j]), 1e-6f)));
			delta[j] *= w;
		}
	}

	@Override
	public void ram(int out, int[] terms, float epsilon, int count) {
		float[][] vectors = new float[terms.length][];
		for (int i = 0; i < terms.length; i++) {
			vectors[i] = this.slots[terms[i]];
		}
		ram(this.slots[out], vectors, epsilon, count);
	}

	static void ram(float[] merged, float[][] deltas, float epsilon, int count) {
		for (int j = 0; j < count; j++) {
			float sum = 0;
			int active = 0;
			for (float[] delta : deltas) {
				if (Math.abs(delta[j]) > epsilon) {
					sum += delta[j];
					active++;
				}
			}
			merged[j] = (active > 1) ? sum / active : sum;
		}
	}

	@Override
	public void pruneOutliers(int slot, int count, int keepBits, long keepAtCut, int dropBits, long dropAtCut,
			float scale) {
		pruneOutliers(this.slots[slot], count, keepBits, keepAtCut, dropBits, dropAtCut, scale);
	}

	static void pruneOutliers(float[] x, int count, int keepBits, long keepAtCut, int dropBits, long dropAtCut,
			float scale) {
		long keptTies = 0;
		long droppedTies = 0;
		for (int j = 0; j < count; j++) {
			int bits = TopK.magnitudeBits(x[j]);
			boolean inKeep = keepBits != TopK.Cut.NONE.bits()
					&& (bits > keepBits || (bits == keepBits && keptTies++ < keepAtCut));
			boolean inDrop = dropBits != TopK.Cut.NONE.bits()
					&& (bits > dropBits || (bits == dropBits && droppedTies++ < dropAtCut));
			x[j] = (inKeep && !inDrop) ? x[j] * scale : 0f;
		}
	}

	@Override
	public void maskRanked(int slot, int count, int length, int inner, double density, double epsilon, long seed,
			long key, long first, float scale) {
		maskRanked(this.slots[slot], count, length, inner, density, epsilon, seed, key, first, scale);
	}

	static void maskRanked(float[] x, int count, int length, int inner, double density, double epsilon, long seed,
			long key, long first, float scale) {
		// Sorting (magnitude bits, position) pairs ranks ties in index order.
		long[] order = new long[length];
		for (int block = 0; block < count; block += length * inner) {
			for (int q = 0; q < inner; q++) {
				for (int r = 0; r < length; r++) {
					order[r] = ((long) TopK.magnitudeBits(x[block + r * inner + q]) << 32) | r;
				}
				Arrays.sort(order);
				for (int rank = 0; rank < length; rank++) {
					int j = block + (int) order[rank] * inner + q;
					// A single element has the middle rank (mergekit divides 0 by 0
					// there).
					double p = (length > 1) ? density - epsilon + 2 * epsilon * rank / (length - 1) : density;
					boolean keep = CounterRandom.uniform(seed, key, first + j) < p;
					x[j] = keep ? x[j] * scale : 0f;
				}
			}
		}
	}

	@Override
	public void variance(int out, int[] terms, int count) {
		float[][] vectors = new float[terms.length][];
		for (int i = 0; i < terms.length; i++) {
			vectors[i] = this.slots[terms[i]];
		}
		variance(this.slots[out], vectors, count);
	}

	static void variance(float[] out, float[][] terms, int count) {
		for (int j = 0; j < count; j++) {
			float mean = 0;
			for (float[] term : terms) {
				mean += term[j];
			}
			mean /= terms.length;
			float squares = 0;
			for (float[] term : terms) {
				float d = term[j] - mean;
				squares += d * d;
			}
			out[j] = squares / terms.length;
		}
	}

	@Override
	public void keepAtLeast(int slot, int scores, float threshold, int count) {
		keepAtLeast(this.slots[slot], this.slots[scores], threshold, count);
	}

	static void keepAtLeast(float[] x, float[] scores, float threshold, int count) {
		for (int j = 0; j < count; j++) {
			x[j] = (scores[j] >= threshold) ? x[j] : 0f;
		}
	}

	@Override
	public void sceMerge(int out, int[] terms, float[] weights, int count) {
		float[][] vectors = new float[terms.length][];
		for (int i = 0; i < terms.length; i++) {
			vectors[i] = this.slots[terms[i]];
		}
		sceMerge(this.slots[out], vectors, weights, count);
	}

	static void sceMerge(float[] merged, float[][] deltas, float[] weights, int count) {
		for (int j = 0; j < count; j++) {
			float total = 0;
			for (float[] delta : deltas) {
				total += delta[j];
			}
			float majority = (total >= 0) ? 1f : -1f;
			float mixed = 0;
			float divisor = 0;
			for (int t = 0; t < deltas.length; t++) {
				if (Math.signum(deltas[t][j]) == majority) {
					mixed += weights[t] * deltas[t][j];
					divisor += weights[t];
				}
			}
			merged[j] = mixed / Math.max(divisor, 1e-6f);
		}
	}

	@Override
	public void fusionImportance(int out, int delta, int base, int count, int length) {
		fusionImportance(this.slots[out], this.slots[delta], this.slots[base], count, length);
	}

	static void fusionImportance(float[] out, float[] delta, float[] base, int count, int length) {
		for (int start = 0; start < count; start += length) {
			double maxX = Double.NEGATIVE_INFINITY;
			double maxB = Double.NEGATIVE_INFINITY;
			for (int j = start; j < start + length; j++) {
				maxX = Math.max(maxX, (double) base[j] + delta[j]);
				maxB = Math.max(maxB, base[j]);
			}
			double sumX = 0;
			double sumB = 0;
			for (int j = start; j < start + length; j++) {
				sumX += Math.exp((double) base[j] + delta[j] - maxX);
				sumB += Math.exp(base[j] - maxB);
			}
			double kl = 0;
			for (int j = start; j < start + length; j++) {
				double p = Math.exp((double) base[j] + delta[j] - maxX) / sumX + 1e-8;
				double q = Math.exp(base[j] - maxB) / sumB + 1e-8;
				kl += p * Math.log(p / q);
			}
			// Both measures carry the same mass, so KL ≥ 0 up to rounding.
			float divergence = (float) Math.max(kl, 0);
			for (int j = start; j < start + length; j++) {
				out[j] = Math.abs(delta[j]) * divergence;
			}
		}
	}

	@Override
	public void curvatureWeights(int moments, int delta, float power, float scale, float epsilon, float threshold,
			int count) {
		curvatureWeights(this.slots[moments], (delta >= 0) ? this.slots[delta] : null, power, scale, epsilon, threshold,
				count);
	}

	static void curvatureWeights(float[] v, float[] delta, float power, float scale, float epsilon, float threshold,
			int count) {
		boolean root = power == 0.5f;
		for (int j = 0; j < count; j++) {
			double value = v[j];
			boolean kept = true;
			if (!Float.isNaN(threshold)) {
				kept = ((delta != null) ? saliency(v[j], delta[j]) : v[j]) >= threshold;
			}
			double preconditioned = (root ? Math.sqrt(value) : Math.pow(value, power)) * scale + epsilon;
			v[j] = kept ? (float) preconditioned : 0f;
		}
	}

	@Override
	public void fusionImportance(int out, int delta, int base, int count, int length, DType precision) {
		fusionImportance(this.slots[out], this.slots[delta], this.slots[base], count, length, precision);
	}

	static void fusionImportance(float[] out, float[] delta, float[] base, int count, int length, DType precision) {
		if (precision == DType.F32) {
			fusionImportance(out, delta, base, count, length);
			return;
		}
		float[] p = new float[length];
		float[] q = new float[length];
		for (int start = 0; start < count; start += length) {
			// x = b + Δ exactly: both inputs are already rounded to the precision.
			softmax(delta, base, start, length, p, true);
			softmax(delta, base, start, length, q, false);
			float kl = 0;
			for (int j = 0; j < length; j++) {
				float pj = TensorData.round(TensorData.round(p[j], precision) + 1e-8f, precision);
				float qj = TensorData.round(TensorData.round(q[j], precision) + 1e-8f, precision);
				float log = TensorData.round((float) Math.log(TensorData.round(pj / qj, precision)), precision);
				kl += TensorData.round(pj * log, precision);
			}
			kl = TensorData.round(kl, precision);
			for (int j = start; j < start + length; j++) {
				float difference = TensorData.round(Math.abs(delta[j]), precision);
				out[j] = TensorData.round(difference * kl, precision);
			}
		}
	}

	/** A softmax accumulated in float32, its results rounded later by the caller. */
	private static void softmax(float[] delta, float[] base, int start, int length, float[] out, boolean model) {
		float max = Float.NEGATIVE_INFINITY;
		for (int j = 0; j < length; j++) {
			max = Math.max(max, model ? base[start + j] + delta[start + j] : base[start + j]);
		}
		float sum = 0;
		for (int j = 0; j < length; j++) {
			out[j] = (float) Math.exp((model ? base[start + j] + delta[start + j] : base[start + j]) - max);
			sum += out[j];
		}
		for (int j = 0; j < length; j++) {
			out[j] = out[j] / sum;
		}
	}

	@Override
	public void saliency(int out, int moments, int delta, int count) {
		saliency(this.slots[out], (moments >= 0) ? this.slots[moments] : null, (delta >= 0) ? this.slots[delta] : null,
				count);
	}

	static void saliency(float[] out, float[] v, float[] delta, int count) {
		for (int j = 0; j < count; j++) {
			if (v == null) {
				out[j] = Math.abs(delta[j]);
			}
			else if (delta == null) {
				out[j] = v[j];
			}
			else {
				out[j] = saliency(v[j], delta[j]);
			}
		}
	}

	/**
	 * v·δ², rounded once to float32: the mask and the whole-model threshold selected on
	 * these values compare the same numbers.
	 */
	private static float saliency(float v, float delta) {
		return (float) ((double) v * delta * delta);
	}

	@Override
	public void curvatureMerge(int out, int[] deltas, int[] weights, float[] coefficients, boolean masked,
			float fallbackLimit, boolean fallbackToBase, int count) {
		float[][] d = new float[deltas.length][];
		float[][] w = new float[weights.length][];
		for (int i = 0; i < deltas.length; i++) {
			d[i] = this.slots[deltas[i]];
			w[i] = this.slots[weights[i]];
		}
		curvatureMerge(this.slots[out], d, w, coefficients, masked, fallbackLimit, fallbackToBase, count);
	}

	static void curvatureMerge(float[] out, float[][] deltas, float[][] weights, float[] coefficients, boolean masked,
			float fallbackLimit, boolean fallbackToBase, int count) {
		int n = deltas.length;
		for (int j = 0; j < count; j++) {
			double total = 0;
			for (float[] w : weights) {
				total += w[j];
			}
			double merged = 0;
			if (!Float.isNaN(fallbackLimit) && total <= fallbackLimit) {
				if (!fallbackToBase) {
					for (float[] delta : deltas) {
						merged += delta[j];
					}
					merged /= n;
				}
			}
			else if (coefficients == null) {
				for (int t = 0; t < n; t++) {
					merged += (double) weights[t][j] * deltas[t][j];
				}
				merged /= total;
			}
			else {
				for (int t = 0; t < n; t++) {
					if (!masked || weights[t][j] != 0) {
						merged += (double) coefficients[t] * deltas[t][j];
					}
				}
				merged /= n;
			}
			out[j] = (float) merged;
		}
	}

	@Override
	public void rowColumnSums(int slot, int count, int columns, boolean squared, double[] rowSums, int firstRow,
			double[] columnSums) {
		rowColumnSums(this.slots[slot], count, columns, squared, rowSums, firstRow, columnSums);
	}

	static void rowColumnSums(float[] x, int count, int columns, boolean squared, double[] rowSums, int firstRow,
			double[] columnSums) {
		for (int r = 0; r < count / columns; r++) {
			double row = 0;
			for (int c = 0; c < columns; c++) {
				double value = x[r * columns + c];
				value = squared ? value * value : value;
				row += value;
				columnSums[c] += value;
			}
			if (rowSums != null) {
				rowSums[firstRow + r] += row;
			}
		}
	}

	@Override
	public void round(int slot, int count, DType dtype) {
		float[] values = this.slots[slot];
		for (int i = 0; i < count; i++) {
			values[i] = TensorData.round(values[i], dtype);
		}
	}

	@Override
	public ByteBuffer store(int slot, int addend, int count, DType dtype, ByteBuffer target, boolean finite) {
		return TensorData.encodeSum(this.slots[slot], (addend >= 0) ? this.slots[addend] : null, count, dtype, target,
				this.words, finite);
	}

	@Override
	public void close() {
		// Heap arrays only: the collector takes them.
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
