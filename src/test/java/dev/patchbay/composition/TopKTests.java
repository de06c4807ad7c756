package dev.patchbay.composition;

import java.io.IOException;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class TopKTests {

	@Test
	void cutKeepsExactlyTheKLargestMagnitudesAcrossChunks() throws IOException {
		Random random = new Random(3);
		float[] values = new float[10_000];
		for (int i = 0; i < values.length; i++) {
			values[i] = (float) random.nextGaussian();
		}
		long k = 1234;
		TopK.Cut cut = TopK.select((consumer) -> {
			for (int start = 0; start < values.length; start += 999) {
				int count = Math.min(999, values.length - start);
				consumer.accept(Arrays.copyOfRange(values, start, start + count), count);
			}
		}, values.length, k);
		float[] sorted = new float[values.length];
		for (int i = 0; i < values.length; i++) {
			sorted[i] = Math.abs(values[i]);
		}
		Arrays.sort(sorted);
		float kth = sorted[values.length - (int) k];
		assertThat(Float.intBitsToFloat(cut.bits())).isEqualTo(kth);
		assertThat(cut.ties()).isEqualTo(1);
	}

	@Test
	void tiesAtTheCutAreCountedSoExactlyKSurvive() throws IOException {
		float[] values = { 5, -3, 3, 3, -3, 1, 0 };
		TopK.Cut cut = TopK.select((consumer) -> consumer.accept(values, values.length), values.length, 3);
		assertThat(Float.intBitsToFloat(cut.bits())).isEqualTo(3f);
		assertThat(cut.ties()).as("5 is above the cut; two of the four 3s are kept").isEqualTo(2);
	}

	@Test
	void zeroAndFullDensityNeedNoPass() throws IOException {
		TopK.Chunks failing = (consumer) -> {
			throw new AssertionError("no pass expected");
		};
		assertThat(TopK.select(failing, 10, 0)).isEqualTo(TopK.Cut.NONE);
		assertThat(TopK.select(failing, 10, 10)).isEqualTo(TopK.Cut.ALL);
	}

	@Test
	void bfloat16ValuesAreCutExactlyInOnePass() throws IOException {
		Random random = new Random(5);
		float[] values = new float[20_000];
		for (int i = 0; i < values.length; i++) {
			values[i] = dev.patchbay.storage.TensorData.round((float) random.nextGaussian(),
					dev.patchbay.shared.DType.BF16);
		}
		long k = 4321;
		int[] passes = { 0 };
		TopK.Cut cut = TopK.select((consumer) -> {
			passes[0]++;
			consumer.accept(values, values.length);
		}, values.length, k);
		assertThat(passes[0]).isEqualTo(1);
		float[] magnitudes = new float[values.length];
		for (int i = 0; i < values.length; i++) {
			magnitudes[i] = Math.abs(values[i]);
		}
		Arrays.sort(magnitudes);
		float kth = magnitudes[values.length - (int) k];
		long above = 0;
		long equal = 0;
		for (float magnitude : magnitudes) {
			above += (magnitude > kth) ? 1 : 0;
			equal += (magnitude == kth) ? 1 : 0;
		}
		assertThat(cut).isEqualTo(new TopK.Cut(Float.floatToRawIntBits(kth), k - above, equal));
		assertThat(equal).as("bfloat16 has ties").isGreaterThan(1);
	}

}
