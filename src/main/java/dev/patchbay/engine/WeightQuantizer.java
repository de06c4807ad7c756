package dev.patchbay.engine;

import dev.patchbay.shared.DType;

/**
 * Weight-only quantization of one Linear weight [rows, columns], per output channel or
 * per group of {@code groupSize} columns, as compressed-tensors computes and packs it (so
 * that vLLM loads the result), or as DenseShift's zero-free power-of-two codes.
 * <p>
 * Integer codes follow {@code compressed_tensors.quantization}: the range is widened to
 * include 0; symmetric scale = max|x| / ((q_max − q_min) / 2) with zero point 0,
 * asymmetric scale = (max − min) / (q_max − q_min) with zero point round(q_min − min /
 * scale); q = clamp(round(x / scale + zp), q_min, q_max) with q_min = −2^(bits−1), q_max
 * = 2^(bits−1) − 1, rounding half to even; x̂ = (q − zp) · scale; scales are clamped to
 * float32's epsilon. Packing is {@code pack_to_int32}'s: codes offset by 2^(bits−1) to be
 * unsigned, 32 / bits to an int32, element k of a word at bit k · bits, along the columns
 * for weights and along the rows for zero points.
 * <p>
 * Power-of-two codes (DenseShift) are sign and exponent, with no zero: x̂ = scale ·
 * (−1)^s · 2^(−e) for e in [0, 2^(bits−1) − 1] and scale = max|x| of the group; e is the
 * nearest such level in linear distance, and the code is s · 2^(bits−1) + e, packed the
 * same way.
 * <p>
 * This is not {@link Quantizer}, which keeps RWS signatures in its own min–max layout of
 * unsigned codes in bytes; the conventions differ in zero point and packing.
 */
public final class WeightQuantizer {

	/** float32's machine epsilon, compressed-tensors' lower clamp of scales. */
	private static final float EPSILON = Math.ulp(1f);

	/** How values become codes. */
	public enum Scheme {

		INT, POW2

	}

	private final Scheme scheme;

	private final int bits;

	private final int groupSize;

	private final boolean symmetric;

	private final DType scaleDtype;

	/**
	 * @param groupSize columns per group, or 0 for one group per output channel
	 * @param scaleDtype the dtype scales are stored in: codes are computed against the
	 * stored (rounded) scales, so decoding sees exactly what encoding used
	 */
	public WeightQuantizer(Scheme scheme, int bits, int groupSize, boolean symmetric, DType scaleDtype) {
		if (bits != 4 && bits != 8) {
			throw new IllegalArgumentException("bits must be 4 or 8");
		}
		this.scheme = scheme;
		this.bits = bits;
		this.groupSize = groupSize;
		this.symmetric = symmetric;
		this.scaleDtype = scaleDtype;
	}

	/** Codes in one int32. */
	public int packFactor() {
		return 32 / this.bits;
	}

	/** Groups per row for a weight with this many columns. */
	public int groups(int columns) {
		return (this.groupSize == 0) ? 1 : columns / this.groupSize;
	}

	/** The largest exponent of a power-of-two code. */
	public int maxExponent() {
		return (1 << (this.bits - 1)) - 1;
	}

	/**
	 * Quantizes a row-major weight; columns must be a multiple of the group size.
	 */
	public Quantized quantize(float[] weight, int rows, int columns) {
		int groupColumns = (this.groupSize == 0) ? columns : this.groupSize;
		int groups = columns / groupColumns;
		int factor = packFactor();
		int packedColumns = (columns + factor - 1) / factor;
		int[] packed = new int[Math.multiplyExact(rows, packedColumns)];
		float[] scales = new float[rows * groups];
		int[] zeroPoints = (this.scheme == Scheme.INT && !this.symmetric)
				? new int[((rows + factor - 1) / factor) * groups] : null;
		int qMin = -(1 << (this.bits - 1));
		int qMax = (1 << (this.bits - 1)) - 1;
		int offset = 1 << (this.bits - 1);
		double signal = 0;
		double noise = 0;
		for (int r = 0; r < rows; r++) {
			for (int g = 0; g < groups; g++) {
				int start = r * columns + g * groupColumns;
				float min = 0f;
				float max = 0f;
				for (int i = start; i < start + groupColumns; i++) {
					min = Math.min(min, weight[i]);
					max = Math.max(max, weight[i]);
				}
				float absMax = Math.max(-min, max);
				float scale;
				int zeroPoint = 0;
				if (this.scheme == Scheme.POW2) {
					scale = TensorData.round(Math.max(absMax, EPSILON), this.scaleDtype);
				}
				else if (this.symmetric) {
					scale = TensorData.round(Math.max(absMax / ((qMax - qMin) / 2f), EPSILON), this.scaleDtype);
				}
				else {
					scale = TensorData.round(Math.max((max - min) / (qMax - qMin), EPSILON), this.scaleDtype);
					zeroPoint = (int) Math.max(qMin, Math.min(qMax, Math.rint(qMin - min / scale)));
				}
				scales[r * groups + g] = scale;
				if (zeroPoints != null) {
					zeroPoints[(r / factor) * groups + g] |= (zeroPoint + offset) << (this.bits * (r % factor));
				}
				for (int i = start; i < start + groupColumns; i++) {
					float x = weight[i];
					int code;
					float decoded;
					if (this.scheme == Scheme.POW2) {
						int exponent = nearestExponent(Math.abs(x) / scale);
						int sign = (x < 0) ? 1 : 0;
						code = (sign << (this.bits - 1)) | exponent;
						decoded = ((sign == 1) ? -scale : scale) * Math.scalb(1f, -exponent);
					}
					else {
						int q = (int) Math.max(qMin, Math.min(qMax, Math.rint(x / scale + zeroPoint)));
						code = q + offset;
						decoded = (q - zeroPoint) * scale;
					}
					int column = i - r * columns;
					packed[r * packedColumns + column / factor] |= code << (this.bits * (column % factor));
					signal += (double) x * x;
					noise += ((double) x - decoded) * ((double) x - decoded);
				}
			}
		}
		return new Quantized(packed, scales, zeroPoints, signal, noise);
	}

	/**
	 * The exponent e in [0, max] whose 2^(−e) is nearest to ratio ≥ 0, ties to the larger
	 * level: ratio lies in [2^k, 2^(k+1)) for k = floor(log2 ratio), read from its float
	 * exponent, so only e = −k − 1 and e = −k (clamped) compete.
	 */
	private int nearestExponent(float ratio) {
		int max = maxExponent();
		if (!(ratio > 0)) {
			return max;
		}
		int k = Math.getExponent(ratio);
		int larger = Math.max(0, Math.min(max, -k - 1));
		int smaller = Math.max(0, Math.min(max, -k));
		double largerError = Math.abs(ratio - Math.scalb(1.0, -larger));
		double smallerError = Math.abs(ratio - Math.scalb(1.0, -smaller));
		return (smallerError < largerError) ? smaller : larger;
	}

	/**
	 * One quantized weight.
	 *
	 * @param packed int32 words, row-major [rows, ceil(columns / packFactor)]
	 * @param scales row-major [rows, groups]
	 * @param zeroPoints int32 words packed along the rows, [ceil(rows / packFactor),
	 * groups], for asymmetric integer codes; else null
	 * @param signal Σ x²
	 * @param noise Σ (x − x̂)²
	 */
	public record Quantized(int[] packed, float[] scales, int[] zeroPoints, double signal, double noise) {

		/** 10 · log10(signal / noise), or null when the codes are exact. */
		public Double snrDb() {
			return (this.noise == 0) ? null : 10 * Math.log10(this.signal / this.noise);
		}

	}

}
