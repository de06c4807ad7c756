package dev.patchbay.composition;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.patchbay.shared.DType;

import static org.assertj.core.api.Assertions.assertThat;

class QuantizerTests {

	@ParameterizedTest
	@ValueSource(ints = { 2, 4, 8 })
	void decodingAChunkFromItsOwnBytesEqualsDecodingItFromTheWholeTensor(int bits) {
		int rows = 7;
		int columns = 13;
		float[] values = new float[rows * columns];
		Random random = new Random(bits);
		for (int i = 0; i < values.length; i++) {
			values[i] = (float) random.nextGaussian();
		}
		Quantizer quantizer = new Quantizer(bits);
		float[] scales = new float[rows];
		float[] minimums = new float[rows];
		byte[] packed = quantizer.encode(values, rows, scales, minimums, DType.F16);
		float[] whole = new float[values.length];
		quantizer.decode(packed, 0, 0, values.length, columns, scales, minimums, whole);
		assertThat(whole).isNotEqualTo(new float[values.length]);

		for (int row = 0; row < rows; row++) {
			long first = (long) row * columns;
			int count = 2 * columns;
			count = (int) Math.min(count, values.length - first);
			int startByte = (int) (first * bits / 8);
			int endByte = (int) quantizer.packedBytes(first + count);
			float[] chunk = new float[count];
			quantizer.decode(Arrays.copyOfRange(packed, startByte, endByte), (long) startByte * 8 / bits, first, count,
					columns, scales, minimums, chunk);
			assertThat(chunk).as("rows from " + row)
				.containsExactly(Arrays.copyOfRange(whole, (int) first, (int) first + count));
		}
	}

}
