package dev.patchbay.engine;

import java.nio.ByteBuffer;

import dev.patchbay.shared.DType;

/**
 * Float32 scratch tensors ("slots") for one chunk of one tensor at a time, and the
 * operations a composition applies to them. The order of operations inside each one
 * follows {@code peft.utils.merge_utils} and PEFT's LoRA and DoRA merges, so that every
 * backend agrees with their golden outputs.
 * <p>
 * Slots hold {@link #capacity()} elements; {@code count} arguments name how many are in
 * use. A workspace belongs to one thread at a time and is reused from chunk to chunk;
 * closing it releases its memory, native memory included.
 */
public interface Workspace extends AutoCloseable {

	/** Elements each slot holds. */
	int capacity();

	/**
	 * Decodes {@code count} stored elements into a slot, and zeroes the slot's elements
	 * [count, length): rows past the end of a vocabulary-padded tensor read as zeros.
	 * @param data little-endian elements from the buffer's position; the buffer is only
	 * read, so it may map a file read-only
	 */
	void load(int slot, ByteBuffer data, DType dtype, int count, int length);

	/** Copies float32 values computed on the host into a slot. */
	void load(int slot, float[] values, int count);

	/**
	 * Decodes quantized codes into a slot: element {@code i} of the tensor becomes
	 * {@code minimum[c] + code[i] · scale[c]} for its channel {@code c}.
	 */
	void dequantize(int slot, Quantizer.Codes codes, long first, int count);

	/**
	 * {@code slot = scale · B[first : first + rows] · A} for row-major B [out, rank] and
	 * A [rank, columns]: a LoRA delta for rows of a linear or (flattened) convolution
	 * weight.
	 */
	void lowRank(int slot, float[] b, int first, int rows, int rank, float[] a, int columns, float scale);

	/**
	 * {@code slot[o, i, h, w] = scale · Σ_r out[first + o, r] · in[i, r] · kh[h, r] · kw[w, r]}
	 * for row-major factors out [outChannels, rank], in [inChannels, rank], kh [height,
	 * rank] and kw [width, rank]: rows of a CP-decomposed convolution delta (CP-LoRA).
	 */
	void cpLowRank(int slot, float[] out, int first, int rows, int rank, float[] in, int inChannels, float[] kh,
			int height, float[] kw, int width, float scale);

	/**
	 * {@code slot = (scale · B · A[:, first : first + rows])ᵀ} for B [columns, rank] and
	 * A [rank, inner]: rows of a LoRA delta on a weight stored [in, out] (PEFT's
	 * {@code fan_in_fan_out}).
	 */
	void lowRankTransposed(int slot, float[] b, int columns, int rank, float[] a, int inner, int first, int rows,
			float scale);

	/**
	 * DoRA: turns a LoRA delta into {@code m / ‖W + Δ‖ ⊙ (W + Δ) − W}, the norm taken per
	 * output channel.
	 * @param magnitudes one per output channel of the whole tensor
	 * @param channelsAreRows whether output channels are the slot's rows (a weight stored
	 * [out, in]; {@code firstRow} indexes the magnitudes) or its columns (stored [in,
	 * out]: the slot must then hold the whole tensor)
	 */
	void doraRescale(int delta, int base, float[] magnitudes, int firstRow, int rows, int columns,
			boolean channelsAreRows);

	/** {@code slot -= other}. */
	void subtract(int slot, int other, int count);

	/** Counts a slot's magnitudes into one worker's histogram of a top-k pass. */
	void histogram(int slot, int count, TopK.Histogram histogram);

	/** How many of a slot's elements have exactly the magnitude bits of a cut. */
	long countAt(int slot, int count, int bits);

	/**
	 * Keeps the elements whose magnitude is above the cut, and of those exactly at it the
	 * first {@code keepAtCut} in index order; zeroes the rest.
	 */
	void pruneMagnitude(int slot, int count, int cutBits, long keepAtCut);

	/**
	 * DARE: keeps each element with probability {@code density}, drawn from the
	 * counter-based stream at (seed, key, first + i), rescaled by 1 / density.
	 */
	void pruneRandom(int slot, int count, double density, long seed, long key, long first);

	/** {@code out = Σ weights[t] · slot[terms[t]]}, added in term order. */
	void weightedSum(int out, int[] terms, float[] weights, int count);

	/**
	 * TIES: elects a sign per element from the unweighted terms (their sum, or their
	 * count of signs), then averages the weighted terms that agree with it; zeros agree
	 * with neither sign.
	 */
	void disjointMerge(int out, int[] terms, float[] weights, SignElection election, int count);

	/** {@code slot += other}. */
	void add(int slot, int other, int count);

	/**
	 * Adds the pairwise dot products of the slots to a row-major {@code n × n} Gram
	 * matrix in double precision: one chunk's share of a whole-tensor statistic.
	 */
	void gram(int[] slots, int count, double[] gram);

	/**
	 * Adds, per vector, the pairwise dot products of the slots: the slots hold
	 * {@code count / length} vectors of {@code length} contiguous elements (a tensor's
	 * last dimension), and vector {@code v}'s matrix starts at {@code v · n · n}.
	 */
	void vectorGram(int[] slots, int count, int length, double[] grams);

	/**
	 * {@code out = Σ_t coefficients[v · n + t] · slot[terms[t]]} on each vector {@code v}
	 * of {@code length} contiguous elements.
	 */
	void vectorWeightedSum(int out, int[] terms, float[] coefficients, int count, int length);

	/**
	 * Adds, per column, the pairwise dot products of the slots: the slots hold a
	 * row-major matrix of {@code count / columns} rows, column {@code j} being the vector
	 * of elements {@code j, j + columns, …} (a tensor's dim 0), and column {@code j}'s
	 * matrix starts at {@code j · n · n}.
	 */
	void columnGram(int[] slots, int count, int columns, double[] grams);

	/**
	 * {@code out = Σ_t coefficients[j · n + t] · slot[terms[t]]} on each column {@code j}
	 * of a row-major matrix of {@code columns} columns.
	 */
	void columnWeightedSum(int out, int[] terms, float[] coefficients, int count, int columns);

	/** The L1 norm of a slot, in double precision. */
	double l1(int slot, int count);

	/**
	 * Counts how much the delta in one slot changes the base in another (a patch audit's
	 * per-tensor statistics), in double precision.
	 */
	void changeStatistics(int delta, int base, int count, ChangeStatistics into);

	/**
	 * Adds the squared norms of a slot's rows ({@code perRow}: {@code sums[offset + r]})
	 * or of its columns ({@code sums[c]}), the slot holding a row-major
	 * {@code rows × columns} matrix, in double precision.
	 */
	void squaredNorms(int slot, int rows, int columns, boolean perRow, double[] sums, int offset);

	/**
	 * Adds {@code Mᵀ·(M·v)} to {@code into} for the row-major {@code rows × columns}
	 * matrix M a slot holds: one chunk of rows' share of a power-iteration step, since
	 * {@code MᵀM = Σ_chunks M_cᵀM_c}.
	 */
	void gramProduct(int slot, int rows, int columns, float[] vector, double[] into);

	/**
	 * mergekit's random sparsifier: keeps each element with probability {@code density},
	 * drawn from the counter-based stream at (seed, key, first + i), and multiplies the
	 * kept ones by {@code scale}.
	 */
	void maskRandom(int slot, int count, double density, long seed, long key, long first, float scale);

	/**
	 * mergekit's TIES consensus on weighted deltas: {@code W_t = weights[t] · slot}, the
	 * majority sign is that of {@code Σ W_t} (+ for 0), and
	 * {@code out = λ · Σ_agreeing W_t / (normalize ? Σ_agreeing weights[t] : 1)}, a zero
	 * divisor being 1; zeros agree with neither sign.
	 */
	void consensusMerge(int out, int[] terms, float[] weights, boolean normalize, float lambda, int count);

	/**
	 * mergekit's nearswap on a task vector τ:
	 * {@code τ · clamp(t / max(|τ|, 1e-6), 0, 1)}.
	 */
	void nearswap(int slot, float t, int count);

	/**
	 * mergekit's RAM: {@code out = Σ_t τ_t · a_t / c} where {@code a_t = |τ_t| > ε} and
	 * {@code c = Σ a_t} (nothing where c = 0).
	 */
	void ram(int out, int[] terms, float epsilon, int count);

	/**
	 * mergekit's {@code magnitude_outliers} (breadcrumbs): keeps the elements inside the
	 * top-k cut {@code keepBits} but outside the smaller top-k cut {@code dropBits}, so
	 * that both the largest and the smallest magnitudes go, and multiplies the kept ones
	 * by {@code scale}. Of the elements exactly at a cut, the first {@code keepAtCut}
	 * (resp. {@code dropAtCut}) in index order are inside it.
	 */
	void pruneOutliers(int slot, int count, int keepBits, long keepAtCut, int dropBits, long dropAtCut, float scale);

	/**
	 * mergekit's {@code della_magprune}: the slot holds blocks of {@code length × inner}
	 * elements (a tensor's dim 1 and the dims after it). Along dim 1, for every block and
	 * inner position, the element of ascending magnitude rank r among n is kept with
	 * probability {@code density − ε + 2ε · r / (n − 1)}, drawn from the counter stream
	 * at (seed, key, first + i), and kept ones are multiplied by {@code scale}. Equal
	 * magnitudes rank in index order; a dim 1 of size 1 keeps with probability
	 * {@code density}.
	 */
	void maskRanked(int slot, int count, int length, int inner, double density, double epsilon, long seed, long key,
			long first, float scale);

	/** {@code out} = the population variance of the terms, per element (sce's score). */
	void variance(int out, int[] terms, int count);

	/** Zeroes the slot's elements whose score is below the threshold. */
	void keepAtLeast(int slot, int scores, float threshold, int count);

	/**
	 * mergekit's sce merge of task vectors: the majority sign is that of their unweighted
	 * sum (+ for 0), and {@code out = Σ_agreeing w_t τ_t / max(Σ_agreeing w_t, 1e-6)};
	 * zeros agree with neither sign.
	 */
	void sceMerge(int out, int[] terms, float[] weights, int count);

	/**
	 * arcee_fusion's importance of a task vector τ on base b, per vector of
	 * {@code length} contiguous elements: {@code out = |τ| · KL(p ‖ q)} with
	 * {@code p = softmax(b + τ) + 1e-8} and {@code q = softmax(b) + 1e-8}.
	 */
	void fusionImportance(int out, int delta, int base, int count, int length);

	/**
	 * OTA's curvature weights (METHODS.md §4), in place on a slot of second moments v:
	 * {@code ω = (v^power · scale + ε) · m}, where the Fast Fisher Grafting mask
	 * {@code m = [saliency ≥ threshold]} takes the saliency {@code v · δ²} of the task
	 * vector in {@code delta}, or v alone when {@code delta < 0} (no base model); a NaN
	 * threshold masks nothing.
	 */
	void curvatureWeights(int moments, int delta, float power, float scale, float epsilon, float threshold, int count);

	/**
	 * Fast Fisher Grafting's saliency into {@code out}: {@code v · δ²}, or v alone when
	 * {@code delta < 0}, or {@code |δ|} when {@code moments < 0} (the magnitude metric).
	 */
	void saliency(int out, int moments, int delta, int count);

	/**
	 * OTA's merge of task vectors δ_t with curvature weights ω_t: with
	 * {@code coefficients == null}, {@code out = Σ ω_t δ_t / Σ ω_t} (the preconditioned
	 * mean); else {@code out = Σ c_t · δ_t / n} with δ_t zeroed where {@code ω_t = 0} if
	 * {@code masked} (the linear post-merge). Where {@code Σ ω_t ≤ fallbackLimit} (not
	 * NaN), every term is masked out, and out is 0 (the base) or the plain mean of the
	 * task vectors.
	 */
	void curvatureMerge(int out, int[] deltas, int[] weights, float[] coefficients, boolean masked, float fallbackLimit,
			boolean fallbackToBase, int count);

	/**
	 * Adds a slot's row sums to {@code rowSums[firstRow …]} (unless null) and its column
	 * sums to {@code columnSums}, of the values or (when {@code squared}) their squares,
	 * for {@code count / columns} rows of {@code columns} elements, in double precision.
	 */
	void rowColumnSums(int slot, int count, int columns, boolean squared, double[] rowSums, int firstRow,
			double[] columnSums);

	/**
	 * {@link #fusionImportance(int, int, int, int, int)} as torch computes it on tensors
	 * of a half-precision dtype: every elementwise result, each softmax and each sum
	 * rounded to that dtype (softmax and sums accumulate in float32 first), as mergekit
	 * runs arcee_fusion under {@code dtype: bfloat16}.
	 */
	void fusionImportance(int out, int delta, int base, int count, int length, DType precision);

	/** Rounds a slot's values to a dtype's precision, to nearest even, in place. */
	void round(int slot, int count, DType dtype);

	/**
	 * Encodes {@code slot + addend} (or the slot alone when {@code addend < 0}) as
	 * {@code dtype} into the target, rounding to nearest even when narrowing. The slot
	 * may be overwritten.
	 * @param finite whether to refuse NaN and infinities (PEFT's {@code safe_merge})
	 * @return the target, positioned at 0 and limited to the encoded bytes
	 * @throws NonFiniteException if {@code finite} and a value to store is NaN or
	 * infinite
	 */
	ByteBuffer store(int slot, int addend, int count, DType dtype, ByteBuffer target, boolean finite);

	@Override
	void close();

	/** How TIES elects the sign of an element: by summed value or by count. */
	enum SignElection {

		TOTAL, FREQUENCY

	}

}
