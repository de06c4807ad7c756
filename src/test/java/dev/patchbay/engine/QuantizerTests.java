package dev.patchbay.engine;

import java.nio.ByteBuffer;
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
		new Quantizer.Codes(quantizer, ByteBuffer.wrap(packed), 0, columns, scales, minimums).decode(0, values.length,
				whole);
		assertThat(whole).isNotEqualTo(new float[values.length]);

		for (int row = 0; row < rows; row++) {
			long first = (long) row * columns;
			int count = 2 * columns;
			count = (int) Math.min(count, values.length - first);
			int startByte = (int) (first * bits / 8);
			int endByte = (int) quantizer.packedBytes(first + count);
			float[] chunk = new float[count];
			new Quantizer.Codes(quantizer, ByteBuffer.wrap(Arrays.copyOfRange(packed, startByte, endByte)),
					(long) startByte * 8 / bits, columns, scales, minimums)
				.decode(first, count, chunk);
			assertThat(chunk).as("rows from " + row)
				.containsExactly(Arrays.copyOfRange(whole, (int) first, (int) first + count));
		}
	}

}
