package dev.patchbay.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.Arrays;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import dev.patchbay.shared.DType;

/**
 * The DJL backend's workspace: slots are float32 NDArrays on the engine's device (the GPU
 * when there is one), and the arithmetic runs in libtorch. What torch has no kernel for
 * (radix histograms, counter-based random masks, index-ordered ties) runs on the host
 * over a copy. Stored bytes are decoded on the host, since DJL aborts on BF16.
 * <p>
 * Every operation runs in an {@link NDScope}, so its temporaries are closed when it
 * returns; only the slot it produces survives, attached to the workspace's manager.
 */
final class DjlWorkspace implements Workspace {

	private final NDManager manager;

	private final int capacity;

	private final NDArray[] slots;

	private final float[] host;

	private final short[] words;

	DjlWorkspace(NDManager parent, int capacity, int slots) {
		this.manager = parent.newSubManager();
		this.capacity = capacity;
		this.slots = new NDArray[slots];
		this.host = new float[capacity];
		this.words = new short[capacity];
	}

	@Override
	public int capacity() {
		return this.capacity;
	}

	@Override
	public void load(int slot, ByteBuffer data, DType dtype, int count, int length) {
		TensorData.decode(data, dtype, this.host, count, this.words);
		Arrays.fill(this.host, count, length, 0f);
		upload(slot, this.host, length);
	}

	@Override
	public void load(int slot, float[] values, int count) {
		upload(slot, values, count);
	}

	@Override
	public void dequantize(int slot, Quantizer.Codes codes, long first, int count) {
		codes.decode(first, count, this.host);
		upload(slot, this.host, count);
	}

	private void upload(int slot, float[] values, int count) {
		replace(slot, this.manager.create(FloatBuffer.wrap(values, 0, count), new Shape(count)));
	}

	@Override
	public void lowRank(int slot, float[] b, int first, int rows, int rank, float[] a, int columns, float scale) {
		try (NDScope scope = new NDScope()) {
			float[] bRows = Arrays.copyOfRange(b, first * rank, (first + rows) * rank);
			NDArray product = this.manager.create(bRows, new Shape(rows, rank))
				.matMul(this.manager.create(FloatBuffer.wrap(a, 0, rank * columns), new Shape(rank, columns)));
			keep(slot, product.muli(scale).reshape(rows * (long) columns));
		}
	}

	@Override
	public void cpLowRank(int slot, float[] out, int first, int rows, int rank, float[] in, int inChannels, float[] kh,
			int height, float[] kw, int width, float scale) {
		try (NDScope scope = new NDScope()) {
			// a[r, i, h, w] = in[i, r]·kh[h, r]·kw[w, r] by broadcasting, then one
			// matmul.
			NDArray a = factor(in, inChannels, rank).reshape(rank, inChannels, 1, 1)
				.mul(factor(kh, height, rank).reshape(rank, 1, height, 1))
				.mul(factor(kw, width, rank).reshape(rank, 1, 1, width))
				.reshape(rank, (long) inChannels * height * width);
			float[] outRows = Arrays.copyOfRange(out, first * rank, (first + rows) * rank);
			NDArray product = this.manager.create(outRows, new Shape(rows, rank)).matMul(a);
			keep(slot, product.muli(scale).reshape(rows * (long) inChannels * height * width));
		}
	}

	/** A row-major [length, rank] factor, transposed to [rank, length]. */
	private NDArray factor(float[] values, int length, int rank) {
		return this.manager.create(FloatBuffer.wrap(values, 0, length * rank), new Shape(length, rank)).transpose();
	}

	@Override
	public void lowRankTransposed(int slot, float[] b, int columns, int rank, float[] a, int inner, int first, int rows,
			float scale) {
		try (NDScope scope = new NDScope()) {
			NDArray aColumns = this.manager.create(FloatBuffer.wrap(a, 0, rank * inner), new Shape(rank, inner))
				.get(new NDIndex(":, {}:{}", first, first + rows));
			NDArray product = this.manager.create(FloatBuffer.wrap(b, 0, columns * rank), new Shape(columns, rank))
				.matMul(aColumns);
			keep(slot, product.muli(scale).transpose().reshape(rows * (long) columns));
		}
	}

	@Override
	public void doraRescale(int delta, int base, float[] magnitudes, int firstRow, int rows, int columns,
			boolean channelsAreRows) {
		try (NDScope scope = new NDScope()) {
			NDArray w = this.slots[base].reshape(rows, columns);
			NDArray v = this.slots[delta].reshape(rows, columns).add(w);
			int axis = channelsAreRows ? 1 : 0;
			NDArray norms = v.square().sum(new int[] { axis }, true).sqrt();
			NDArray m = channelsAreRows
					? this.manager.create(Arrays.copyOfRange(magnitudes, firstRow, firstRow + rows), new Shape(rows, 1))
					: this.manager.create(FloatBuffer.wrap(magnitudes, 0, columns), new Shape(1, columns));
			keep(delta, v.muli(m.div(norms)).subi(w).reshape(rows * (long) columns));
		}
	}

	@Override
	public void subtract(int slot, int other, int count) {
		this.slots[slot].subi(this.slots[other]);
	}

	@Override
	public void histogram(int slot, int count, TopK.Histogram histogram) {
		histogram.add(download(slot, count), count);
	}

	@Override
	public long countAt(int slot, int count, int bits) {
		return TopK.countAt(download(slot, count), count, bits);
	}

	@Override
	public void pruneMagnitude(int slot, int count, int cutBits, long keepAtCut) {
		if (keepAtCut != Long.MAX_VALUE || cutBits == TopK.Cut.NONE.bits()) {
			// Ties split in index order: a sequential rule, done on the host.
			float[] values = download(slot, count);
			JavaWorkspace.pruneMagnitude(values, count, cutBits, keepAtCut);
			upload(slot, values, count);
			return;
		}
		try (NDScope scope = new NDScope()) {
			NDArray x = this.slots[slot];
			NDArray keep = x.abs().gte(Float.intBitsToFloat(cutBits)).toType(DataType.FLOAT32, false);
			x.muli(keep);
		}
	}

	@Override
	public void pruneRandom(int slot, int count, double density, long seed, long key, long first) {
		float rescale = (float) (1.0 / density);
		for (int j = 0; j < count; j++) {
			this.host[j] = (CounterRandom.uniform(seed, key, first + j) < density) ? rescale : 0f;
		}
		try (NDScope scope = new NDScope()) {
			this.slots[slot].muli(this.manager.create(FloatBuffer.wrap(this.host, 0, count), new Shape(count)));
		}
	}

	@Override
	public void weightedSum(int out, int[] terms, float[] weights, int count) {
		try (NDScope scope = new NDScope()) {
			NDArray sum = this.manager.zeros(new Shape(count));
			for (int t = 0; t < terms.length; t++) {
				sum.addi(this.slots[terms[t]].mul(weights[t]));
			}
			keep(out, sum);
		}
	}

	@Override
	public void disjointMerge(int out, int[] terms, float[] weights, SignElection election, int count) {
		try (NDScope scope = new NDScope()) {
			NDArray votes = this.manager.zeros(new Shape(count));
			for (int term : terms) {
				NDArray delta = this.slots[term];
				votes.addi((election == SignElection.TOTAL) ? delta : delta.sign());
			}
			NDArray majority = votes.gte(0f).toType(DataType.FLOAT32, false).muli(2f).subi(1f);
			NDArray merged = this.manager.zeros(new Shape(count));
			NDArray agreeing = this.manager.zeros(new Shape(count));
			for (int t = 0; t < terms.length; t++) {
				NDArray delta = this.slots[terms[t]];
				NDArray agrees = delta.mul(majority).gt(0f).toType(DataType.FLOAT32, false);
				merged.addi(agrees.mul(delta).muli(weights[t]));
				agreeing.addi(agrees);
			}
			keep(out, merged.divi(agreeing.maximum(1f)));
		}
	}

	@Override
	public void add(int slot, int other, int count) {
		this.slots[slot].addi(this.slots[other]);
	}

	@Override
	public void gram(int[] slots, int count, double[] gram) {
		// Dot products in double on the host: the statistic must not depend on the
		// device's float32 reduction order.
		JavaWorkspace.gram(hostCopies(slots, count), count, gram);
	}

	@Override
	public void vectorGram(int[] slots, int count, int length, double[] grams) {
		JavaWorkspace.vectorGram(hostCopies(slots, count), count, length, grams);
	}

	@Override
	public void vectorWeightedSum(int out, int[] terms, float[] coefficients, int count, int length) {
		try (NDScope scope = new NDScope()) {
			int vectors = count / length;
			NDArray sum = this.manager.zeros(new Shape(vectors, length));
			for (int t = 0; t < terms.length; t++) {
				float[] column = new float[vectors];
				for (int v = 0; v < vectors; v++) {
					column[v] = coefficients[v * terms.length + t];
				}
				sum.addi(this.slots[terms[t]].reshape(vectors, length)
					.mul(this.manager.create(column, new Shape(vectors, 1))));
			}
			keep(out, sum.reshape(count));
		}
	}

	@Override
	public void columnGram(int[] slots, int count, int columns, double[] grams) {
		JavaWorkspace.columnGram(hostCopies(slots, count), count, columns, grams);
	}

	@Override
	public void columnWeightedSum(int out, int[] terms, float[] coefficients, int count, int columns) {
		try (NDScope scope = new NDScope()) {
			int rows = count / columns;
			NDArray sum = this.manager.zeros(new Shape(rows, columns));
			for (int t = 0; t < terms.length; t++) {
				float[] row = new float[columns];
				for (int j = 0; j < columns; j++) {
					row[j] = coefficients[j * terms.length + t];
				}
				sum.addi(this.slots[terms[t]].reshape(rows, columns)
					.mul(this.manager.create(row, new Shape(1, columns))));
			}
			keep(out, sum.reshape(count));
		}
	}

	@Override
	public double l1(int slot, int count) {
		return JavaWorkspace.l1(download(slot, count), count);
	}

	@Override
	public void changeStatistics(int delta, int base, int count, ChangeStatistics into) {
		// Statistics in double on the host, as for the Gram matrix.
		float[][] copies = hostCopies(new int[] { delta, base }, count);
		into.count(copies[0], copies[1], count);
	}

	@Override
	public void squaredNorms(int slot, int rows, int columns, boolean perRow, double[] sums, int offset) {
		JavaWorkspace.squaredNorms(download(slot, rows * columns), rows, columns, perRow, sums, offset);
	}

	@Override
	public void gramProduct(int slot, int rows, int columns, float[] vector, double[] into) {
		// The two matrix-vector products run on the device; only the result comes back.
		try (NDScope scope = new NDScope()) {
			NDArray matrix = this.slots[slot].get(new NDIndex(":{}", rows * (long) columns)).reshape(rows, columns);
			NDArray v = this.manager.create(FloatBuffer.wrap(vector, 0, columns), new Shape(columns, 1));
			NDArray product = matrix.transpose().matMul(matrix.matMul(v));
			float[] values = product.toFloatArray();
			for (int c = 0; c < columns; c++) {
				into[c] += values[c];
			}
		}
	}

	@Override
	public void maskRandom(int slot, int count, double density, long seed, long key, long first, float scale) {
		for (int j = 0; j < count; j++) {
			this.host[j] = (CounterRandom.uniform(seed, key, first + j) < density) ? scale : 0f;
		}
		try (NDScope scope = new NDScope()) {
			this.slots[slot].muli(this.manager.create(FloatBuffer.wrap(this.host, 0, count), new Shape(count)));
		}
	}

	@Override
	public void consensusMerge(int out, int[] terms, float[] weights, boolean normalize, float lambda, int count) {
		try (NDScope scope = new NDScope()) {
			NDArray total = this.manager.zeros(new Shape(count));
			NDArray[] weighted = new NDArray[terms.length];
			for (int t = 0; t < terms.length; t++) {
				weighted[t] = this.slots[terms[t]].mul(weights[t]);
				total.addi(weighted[t]);
			}
			NDArray majority = total.gte(0f).toType(DataType.FLOAT32, false).muli(2f).subi(1f);
			NDArray mixed = this.manager.zeros(new Shape(count));
			NDArray divisor = this.manager.zeros(new Shape(count));
			for (int t = 0; t < terms.length; t++) {
				NDArray agrees = weighted[t].sign().eq(majority).toType(DataType.FLOAT32, false);
				mixed.addi(weighted[t].mul(agrees));
				divisor.addi(agrees.muli(weights[t]));
			}
			if (normalize) {
				mixed.divi(divisor.add(divisor.eq(0f).toType(DataType.FLOAT32, false)));
			}
			keep(out, (lambda != 1f) ? mixed.muli(lambda) : mixed);
		}
	}

	@Override
	public void nearswap(int slot, float t, int count) {
		try (NDScope scope = new NDScope()) {
			NDArray delta = this.slots[slot];
			NDArray w = delta.abs().maximum(1e-6f).pow(-1f).muli(t).clip(0f, 1f);
			keep(slot, delta.mul(w));
		}
	}

	@Override
	public void ram(int out, int[] terms, float epsilon, int count) {
		try (NDScope scope = new NDScope()) {
			NDArray sum = this.manager.zeros(new Shape(count));
			NDArray active = this.manager.zeros(new Shape(count));
			for (int term : terms) {
				NDArray mask = this.slots[term].abs().gt(epsilon).toType(DataType.FLOAT32, false);
				sum.addi(this.slots[term].mul(mask));
				active.addi(mask);
			}
			keep(out, sum.divi(active.maximum(1f)));
		}
	}

	@Override
	public void pruneOutliers(int slot, int count, int keepBits, long keepAtCut, int dropBits, long dropAtCut,
			float scale) {
		// Ties split in index order: a sequential rule, done on the host.
		float[] values = download(slot, count);
		JavaWorkspace.pruneOutliers(values, count, keepBits, keepAtCut, dropBits, dropAtCut, scale);
		upload(slot, values, count);
	}

	@Override
	public void maskRanked(int slot, int count, int length, int inner, double density, double epsilon, long seed,
			long key, long first, float scale) {
		// Ranks with ties in index order and the counter stream: both on the host.
		float[] values = download(slot, count);
		JavaWorkspace.maskRanked(values, count, length, inner, density, epsilon, seed, key, first, scale);
		upload(slot, values, count);
	}

	@Override
	public void variance(int out, int[] terms, int count) {
		try (NDScope scope = new NDScope()) {
			NDArray sum = this.manager.zeros(new Shape(count));
			for (int term : terms) {
				sum.addi(this.slots[term]);
			}
			NDArray mean = sum.divi(terms.length);
			NDArray squares = this.manager.zeros(new Shape(count));
			for (int term : terms) {
				NDArray d = this.slots[term].sub(mean);
				squares.addi(d.mul(d));
			}
			keep(out, squares.divi(terms.length));
		}
	}

	@Override
	public void keepAtLeast(int slot, int scores, float threshold, int count) {
		try (NDScope scope = new NDScope()) {
			NDArray mask = this.slots[scores].gte(threshold).toType(DataType.FLOAT32, false);
			keep(slot, this.slots[slot].mul(mask));
		}
	}

	@Override
	public void sceMerge(int out, int[] terms, float[] weights, int count) {
		try (NDScope scope = new NDScope()) {
			NDArray total = this.manager.zeros(new Shape(count));
			for (int term : terms) {
				total.addi(this.slots[term]);
			}
			NDArray majority = total.gte(0f).toType(DataType.FLOAT32, false).muli(2f).subi(1f);
			NDArray mixed = this.manager.zeros(new Shape(count));
			NDArray divisor = this.manager.zeros(new Shape(count));
			for (int t = 0; t < terms.length; t++) {
				NDArray agree = this.slots[terms[t]].sign().eq(majority).toType(DataType.FLOAT32, false);
				mixed.addi(this.slots[terms[t]].mul(agree).muli(weights[t]));
				divisor.addi(agree.muli(weights[t]));
			}
			keep(out, mixed.divi(divisor.maximum(1e-6f)));
		}
	}

	@Override
	public void fusionImportance(int out, int delta, int base, int count, int length) {
		// The divergence is summed in double on the host, as the Java backend does, so
		// that the quantile cuts taken on it agree across backends.
		float[][] copies = hostCopies(new int[] { delta, base }, count);
		float[] importance = new float[count];
		JavaWorkspace.fusionImportance(importance, copies[0], copies[1], count, length);
		upload(out, importance, count);
	}

	// OTA's curvature ops are elementwise with per-element branches (masks, fallbacks)
	// and run on the host, as the Java backend does.
	@Override
	public void curvatureWeights(int moments, int delta, float power, float scale, float epsilon, float threshold,
			int count) {
		float[][] copies = hostCopies((delta >= 0) ? new int[] { moments, delta } : new int[] { moments }, count);
		JavaWorkspace.curvatureWeights(copies[0], (delta >= 0) ? copies[1] : null, power, scale, epsilon, threshold,
				count);
		upload(moments, copies[0], count);
	}

	@Override
	public void saliency(int out, int moments, int delta, int count) {
		float[] v = (moments >= 0) ? hostCopies(new int[] { moments }, count)[0] : null;
		float[] d = (delta >= 0) ? hostCopies(new int[] { delta }, count)[0] : null;
		float[] result = new float[count];
		JavaWorkspace.saliency(result, v, d, count);
		upload(out, result, count);
	}

	@Override
	public void curvatureMerge(int out, int[] deltas, int[] weights, float[] coefficients, boolean masked,
			float fallbackLimit, boolean fallbackToBase, int count) {
		float[] result = new float[count];
		JavaWorkspace.curvatureMerge(result, hostCopies(deltas, count), hostCopies(weights, count), coefficients,
				masked, fallbackLimit, fallbackToBase, count);
		upload(out, result, count);
	}

	@Override
	public void rowColumnSums(int slot, int count, int columns, boolean squared, double[] rowSums, int firstRow,
			double[] columnSums) {
		JavaWorkspace.rowColumnSums(download(slot, count), count, columns, squared, rowSums, firstRow, columnSums);
	}

	@Override
	public void fusionImportance(int out, int delta, int base, int count, int length, DType precision) {
		float[][] copies = hostCopies(new int[] { delta, base }, count);
		float[] importance = new float[count];
		JavaWorkspace.fusionImportance(importance, copies[0], copies[1], count, length, precision);
		upload(out, importance, count);
	}

	@Override
	public void round(int slot, int count, DType dtype) {
		// Rounding is bit work on the host, as the codecs do it (DJL has no BF16).
		float[] values = Arrays.copyOf(download(slot, count), count);
		for (int i = 0; i < count; i++) {
			values[i] = TensorData.round(values[i], dtype);
		}
		upload(slot, values, count);
	}

	private float[][] hostCopies(int[] slots, int count) {
		float[][] copies = new float[slots.length][];
		for (int i = 0; i < slots.length; i++) {
			copies[i] = Arrays.copyOf(download(slots[i], count), count);
		}
		return copies;
	}

	@Override
	public ByteBuffer store(int slot, int addend, int count, DType dtype, ByteBuffer target, boolean finite) {
		try (NDScope scope = new NDScope()) {
			NDArray sum = (addend >= 0) ? this.slots[slot].add(this.slots[addend]) : this.slots[slot];
			ByteBuffer bytes = sum.toByteBuffer().order(ByteOrder.nativeOrder());
			bytes.asFloatBuffer().get(this.host, 0, count);
		}
		return TensorData.encodeSum(this.host, null, count, dtype, target, this.words, finite);
	}

	private float[] download(int slot, int count) {
		this.slots[slot].toByteBuffer().order(ByteOrder.nativeOrder()).asFloatBuffer().get(this.host, 0, count);
		return this.host;
	}

	/** Keeps an array made inside the current scope as the slot's new content. */
	private void keep(int slot, NDArray array) {
		NDScope.unregister(array);
		array.attach(this.manager);
		replace(slot, array);
	}

	private void replace(int slot, NDArray array) {
		if (this.slots[slot] != null && this.slots[slot] != array) {
			this.slots[slot].close();
		}
		this.slots[slot] = array;
	}

	@Override
	public void close() {
		this.manager.close();
	}

}
