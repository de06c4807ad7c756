package dev.patchbay.engine;

import org.junit.jupiter.api.Test;

import dev.patchbay.shared.DType;

import static org.assertj.core.api.Assertions.assertThat;

class WeightQuantizerTests {

	@Test
	void packsOffsetCodesLowBitsFirstAsPackToInt32DoesWithZeroPadding() {
		// Symmetric int8: scale = max|x| / 127.5 = 1, so q = round(x): 127.5 rounds to
		// 128
		// and is clamped to 127.
		WeightQuantizer quantizer = new WeightQuantizer(WeightQuantizer.Scheme.INT, 8, 0, true, DType.F32);
		WeightQuantizer.Quantized quantized = quantizer.quantize(new float[] { 1, 2, 0, 0, 127.5f }, 1, 5);
		assertThat(quantized.scales()).containsExactly(1f);
		// pack_to_int32's own example: [1, 2] -> [129, 130] -> 33409 in the low 16 bits.
		int first = (int) (129L + (130L << 8) + (128L << 16) + (128L << 24));
		assertThat(quantized.packed()).containsExactly(first, 255);
		assertThat(quantized.packed()[0] & 0xFFFF).isEqualTo(33409);
		assertThat(quantized.zeroPoints()).isNull();
	}

	@Test
	void asymmetricZeroPointsArePackedAlongTheRows() {
		// Rows [0, 15] and [−3, 12]: scale = 15 / 15 = 1; zero points round(−8 − min).
		WeightQuantizer quantizer = new WeightQuantizer(WeightQuantizer.Scheme.INT, 4, 0, false, DType.F32);
		WeightQuantizer.Quantized quantized = quantizer.quantize(new float[] { 0, 15, -3, 12 }, 2, 2);
		assertThat(quantized.scales()).containsExactly(1f, 1f);
		int zp0 = -8 + 8;
		int zp1 = -5 + 8;
		assertThat(quantized.zeroPoints()).containsExactly(zp0 | (zp1 << 4));
		// q = x + zp: row 0 -> [−8, 7], row 1 -> [−8, 7]; stored as q + 8.
		assertThat(quantized.packed()).containsExactly(0 | (15 << 4), 0 | (15 << 4));
		assertThat(quantized.snrDb()).isNull();
	}

	@Test
	void powerOfTwoCodesTakeTheNearestLevelAndNeverZero() {
		WeightQuantizer quantizer = new WeightQuantizer(WeightQuantizer.Scheme.POW2, 4, 0, true, DType.F32);
		// scale = 1; levels 1, 1/2, 1/4, …, 1/128. 0.75 is a tie (kept at 1), 0.74 is
		// nearer 1/2, −0.3 nearer −1/4, and 0 becomes the smallest level, 1/128.
		WeightQuantizer.Quantized quantized = quantizer.quantize(new float[] { 1, 0.75f, 0.74f, -0.3f, 0 }, 1, 5);
		int[] codes = { 0, 0, 1, 8 | 2, 7 };
		int word = 0;
		for (int k = 0; k < codes.length; k++) {
			word |= codes[k] << (4 * k);
		}
		assertThat(quantized.packed()).containsExactly(word);
		double noise = 0 + 0.25 * 0.25 + 0.24 * 0.24 + 0.05 * 0.05 + (1 / 128.0) * (1 / 128.0);
		double signal = 1 + 0.75 * 0.75 + 0.74 * 0.74 + 0.3 * 0.3;
		assertThat(quantized.snrDb()).isCloseTo(10 * Math.log10(signal / noise),
				org.assertj.core.data.Offset.offset(1e-4));
	}

	@Test
	void groupsHaveTheirOwnScales() {
		WeightQuantizer quantizer = new WeightQuantizer(WeightQuantizer.Scheme.INT, 4, 2, true, DType.F32);
		WeightQuantizer.Quantized quantized = quantizer.quantize(new float[] { 7.5f, 1, -15, 3 }, 1, 4);
		assertThat(quantized.scales()).containsExactly(1f, 2f);
	}

}
