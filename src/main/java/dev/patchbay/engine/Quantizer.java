package dev.patchbay.engine;

import java.nio.ByteBuffer;

import dev.patchbay.shared.DType;

/**
 * Uniform asymmetric min–max quantization of signatures: per tensor, or per output
 * channel (dim 0) for tensors of rank 2 and up. A value v becomes the code round((v −
 * min) / scale) with scale = (max − min) / (2^bits − 1), and decodes to min + code ·
 * scale. Codes are packed little-end first, 8 / bits to a byte.
 */
public final class Quantizer {

	private final int bits;

	public Quantizer(int bits) {
		this.bits = bits;
	}

	public int bits() {
		return this.bits;
	}

	int levels() {
		return (1 << this.bits) - 1;
	}

	/** Bytes needed for n packed codes. */
	public long packedBytes(long n) {
		return (n * this.bits + 7) / 8;
	}

	/**
	 * Quantizes values in place of a packed byte array.
	 * @param channels 1 for per-tensor ranges, else the number of rows (each row its own
	 * range)
	 * @param scales receives one scale per channel
	 * @param minimums receives one minimum per channel
	 * @param rangeDtype the dtype scales and minima are stored in: codes are computed
	 * against the stored (rounded) values, so decoding sees exactly what encoding used
	 */
	public byte[] encode(float[] values, int channels, float[] scales, float[] minimums, DType rangeDtype) {
		int perChannel = values.length / channels;
		byte[] packed = new byte[Math.toIntExact(packedBytes(values.length))];
		for (int c = 0; c < channels; c++) {
			float min = Float.POSITIVE_INFINITY;
			float max = Float.NEGATIVE_INFINITY;
			for (int i = c * perChannel; i < (c + 1) * perChannel; i++) {
				min = Math.min(min, values[i]);
				max = Math.max(max, values[i]);
			}
			min = TensorData.round(min, rangeDtype);
			float scale = TensorData.round((max > min) ? (max - min) / levels() : 0f, rangeDtype);
			scales[c] = scale;
			minimums[c] = min;
			for (int i = c * perChannel; i < (c + 1) * perChannel; i++) {
				int code = (scale == 0f) ? 0 : Math.min(levels(), Math.max(0, Math.round((values[i] - min) / scale)));
				packed[(int) ((long) i * this.bits / 8)] |= (byte) (code << (int) ((long) i * this.bits % 8));
			}
		}
		return packed;
	}

	/**
	 * Packed codes of a run of a tensor's elements, with the ranges of its channels.
	 *
	 * @param packed the codes, from the byte holding element {@code origin}'s code on
	 * @param origin the element whose code starts the buffer; code widths divide 8, so a
	 * byte boundary is a code boundary
	 * @param perChannel elements per channel (the whole tensor for per-tensor ranges)
	 * @param scales one scale per channel of the tensor
	 * @param minimums one minimum per channel of the tensor
	 */
	public record Codes(Quantizer quantizer, ByteBuffer packed, long origin, long perChannel, float[] scales,
			float[] minimums) {

		/** Decodes elements [first, first + count) of the tensor into out. */
		public void decode(long first, int count, float[] out) {
			int bits = this.quantizer.bits;
			int mask = this.quantizer.levels();
			ByteBuffer packed = this.packed;
			int base = packed.position();
			for (int j = 0; j < count; j++) {
				long i = first + j;
				long bit = (i - this.origin) * bits;
				int code = (packed.get(base + (int) (bit / 8)) >>> (int) (bit % 8)) & mask;
				int channel = (int) (i / this.perChannel);
				out[j] = this.minimums[channel] + code * this.scales[channel];
			}
		}

	}

}
