package dev.patchbay.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import org.junit.jupiter.api.Test;

import dev.patchbay.shared.DType;

import static org.assertj.core.api.Assertions.assertThat;

class TensorDataTests {

	@Test
	void halfPrecisionRoundTripsEveryFiniteValue() {
		for (int h = 0; h < 0x10000; h++) {
			short half = (short) h;
			float value = TensorData.halfToFloat(half);
			if (Float.isNaN(value)) {
				assertThat(Float.isNaN(TensorData.halfToFloat(TensorData.floatToHalf(value)))).isTrue();
			}
			else {
				assertThat(TensorData.floatToHalf(value)).as("half 0x%04x", h).isEqualTo(half);
			}
		}
	}

	@Test
	void narrowingRoundsToNearestEven() {
		// 1 + 2^-11 lies halfway between two halves: ties go to the even one (1.0).
		assertThat(TensorData.halfToFloat(TensorData.floatToHalf(1f + 0x1p-11f))).isEqualTo(1f);
		assertThat(TensorData.halfToFloat(TensorData.floatToHalf(1f + 0x1p-11f + 0x1p-20f))).isEqualTo(1f + 0x1p-10f);
		// bfloat16 keeps 8 mantissa bits: 1 + 2^-8 is a tie that goes to even, 1 + 3·2^-8
		// rounds up.
		assertThat(bf16(1f + 0x1p-8f)).isEqualTo(1f);
		assertThat(bf16(1f + 3 * 0x1p-8f)).isEqualTo(1f + 0x1p-6f);
	}

	@Test
	void encodeWritesLittleEndianBytesOfEachDtype() {
		float[] values = { 1.5f, -2f };
		ByteBuffer f64 = TensorData.encode(values, 2, DType.F64).order(ByteOrder.LITTLE_ENDIAN);
		assertThat(f64.getDouble(8)).isEqualTo(-2.0);
		ByteBuffer bf16 = TensorData.encode(values, 2, DType.BF16).order(ByteOrder.LITTLE_ENDIAN);
		assertThat(bf16.getShort(0)).isEqualTo((short) 0x3FC0);
	}

	private static float bf16(float value) {
		return Float.intBitsToFloat((TensorData.floatToBfloat16(value) & 0xFFFF) << 16);
	}

}
