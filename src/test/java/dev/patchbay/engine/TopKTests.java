package dev.patchbay.engine;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

import dev.patchbay.shared.DType;

import static org.assertj.core.api.Assertions.assertThat;

class TopKTests {

	@Test
	void cutKeepsExactlyTheKLargestMagnitudesAcrossChunks() {
		Random random = new Random(3);
		float[] values = new float[10_000];
		for (int i = 0; i < values.length; i++) {
			values[i] = (float) random.nextGaussian();
		}
		long k = 1234;
		// Chunks of 999 shared among three workers, as the executor's threads do.
		TopK.Cut cut = select(values, k, 999, 3, new int[1]);
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
	void tiesAtTheCutAreCountedSoExactlyKSurvive() {
		float[] values = { 5, -3, 3, 3, -3, 1, 0 };
		TopK.Cut cut = select(values, 3, values.length, 1, new int[1]);
		assertThat(Float.intBitsToFloat(cut.bits())).isEqualTo(3f);
		assertThat(cut.ties()).as("5 is above the cut; two of the four 3s are kept").isEqualTo(2);
	}

	@Test
	void zeroAndFullDensityNeedNoPass() {
		assertThat(TopK.select(10, 0).done()).isTrue();
		assertThat(TopK.select(10, 0).cut()).isEqualTo(TopK.Cut.NONE);
		assertThat(TopK.select(10, 10).cut()).isEqualTo(TopK.Cut.ALL);
	}

	@Test
	void bfloat16ValuesAreCutExactlyInOnePass() {
		Random random = new Random(5);
		float[] values = new float[20_000];
		for (int i = 0; i < values.length; i++) {
			values[i] = TensorData.round((float) random.nextGaussian(), DType.BF16);
		}
		long k = 4321;
		int[] passes = { 0 };
		TopK.Cut cut = select(values, k, 5000, 2, passes);
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

	/**
	 * Runs a selection to its end: every pass feeds chunks of the values to as many
	 * workers' histograms, round robin, then folds them in.
	 */
	private static TopK.Cut select(float[] values, long k, int chunk, int workers, int[] passes) {
		TopK.Selection selection = TopK.select(values.length, k);
		while (!selection.done()) {
			passes[0]++;
			TopK.Histogram[] histograms = new TopK.Histogram[workers];
			for (int w = 0; w < workers; w++) {
				histograms[w] = selection.newHistogram();
			}
			for (int start = 0, w = 0; start < values.length; start += chunk, w = (w + 1) % workers) {
				int count = Math.min(chunk, values.length - start);
				histograms[w].add(Arrays.copyOfRange(values, start, start + count), count);
			}
			for (TopK.Histogram histogram : histograms) {
				selection.add(histogram);
			}
			selection.endPass();
		}
		return selection.cut();
	}

}
