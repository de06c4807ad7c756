package dev.patchbay.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class ReshapingTests {

	@Test
	void gathersTheIndicesOfEveryDimensionInTheGivenOrder() {
		// [2, 3, 4] of int32 whose element (a, b, c) holds 100a + 10b + c.
		ByteBuffer source = ByteBuffer.allocate(2 * 3 * 4 * 4).order(ByteOrder.LITTLE_ENDIAN);
		for (int a = 0; a < 2; a++) {
			for (int b = 0; b < 3; b++) {
				for (int c = 0; c < 4; c++) {
					source.putInt(100 * a + 10 * b + c);
				}
			}
		}
		byte[] out = Reshaping.gather(source.array(), new long[] { 2, 3, 4 }, 4,
				new int[][] { { 1 }, null, { 3, 0, 1 } });
		int[] values = new int[out.length / 4];
		ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN).asIntBuffer().get(values);
		assertThat(values).containsExactly(103, 100, 101, 113, 110, 111, 123, 120, 121);
	}

	@Test
	void largestKeepsTheTopScoresInIndexOrderWithTiesToTheLowerIndex() {
		assertThat(Reshaping.largest(new double[] { 1, 5, 3, 5, 0 }, 3)).containsExactly(1, 2, 3);
		assertThat(Reshaping.largest(new double[] { 2, 2, 2 }, 2)).containsExactly(0, 1);
	}

	@Test
	void inflatesAndSlicesBackToTheSameKernel() {
		float[] kernel = { 1, 2, 3, 4, 5, 6 };
		// Two channels of a 1×3 plane, depth 3.
		assertThat(Reshaping.inflate(kernel, 2, 3, 3, true)).containsExactly(1 / 3f, 2 / 3f, 1, 1 / 3f, 2 / 3f, 1,
				1 / 3f, 2 / 3f, 1, 4 / 3f, 5 / 3f, 2, 4 / 3f, 5 / 3f, 2, 4 / 3f, 5 / 3f, 2);
		float[] centred = Reshaping.inflate(kernel, 2, 3, 3, false);
		assertThat(centred).containsExactly(0, 0, 0, 1, 2, 3, 0, 0, 0, 0, 0, 0, 4, 5, 6, 0, 0, 0);
		assertThat(Reshaping.centreSlice(centred, 2, 3, 3)).containsExactly(kernel);
	}

}
