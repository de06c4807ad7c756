package dev.patchbay.composition;

import org.junit.jupiter.api.Test;

import dev.patchbay.composition.MergeMethod.MajoritySign;

import static org.assertj.core.api.Assertions.assertThat;

class MergeTests {

	private static final TopK.Cut[] KEEP_ALL = { TopK.Cut.ALL, TopK.Cut.ALL, TopK.Cut.ALL };

	@Test
	void frequencySignElectionCountsVotesNotMagnitudes() {
		// Element 0: +10 against -1, -1: "total" elects +, "frequency" elects -.
		float[][] total = { { 10f }, { -1f }, { -1f } };
		float[][] frequency = { { 10f }, { -1f }, { -1f } };
		float[] weights = { 1f, 1f, 1f };
		float[] out = new float[1];
		new Merge(new MergeMethod.Ties(1.0, MajoritySign.TOTAL), weights, KEEP_ALL, "w").apply(total, 0, 1, out);
		assertThat(out[0]).isEqualTo(10f);
		new Merge(new MergeMethod.Ties(1.0, MajoritySign.FREQUENCY), weights, KEEP_ALL, "w").apply(frequency, 0, 1,
				out);
		assertThat(out[0]).as("mean of the two agreeing -1s").isEqualTo(-1f);
	}

	@Test
	void dareMaskDependsOnSeedAndTensorButNotOnChunking() {
		float[] weights = { 1f };
		float[][] whole = { new float[1000] };
		java.util.Arrays.fill(whole[0], 1f);
		float[] wholeOut = new float[1000];
		new Merge(new MergeMethod.DareLinear(0.3, 5), weights, null, "w").apply(whole, 0, 1000, wholeOut);
		float[] chunked = new float[1000];
		Merge merge = new Merge(new MergeMethod.DareLinear(0.3, 5), weights, null, "w");
		for (int start = 0; start < 1000; start += 300) {
			int count = Math.min(300, 1000 - start);
			float[][] part = { new float[count] };
			java.util.Arrays.fill(part[0], 1f);
			float[] out = new float[count];
			merge.apply(part, start, count, out);
			System.arraycopy(out, 0, chunked, start, count);
		}
		assertThat(chunked).isEqualTo(wholeOut);
		float[][] other = { new float[1000] };
		java.util.Arrays.fill(other[0], 1f);
		float[] otherOut = new float[1000];
		new Merge(new MergeMethod.DareLinear(0.3, 5), weights, null, "v").apply(other, 0, 1000, otherOut);
		assertThat(otherOut).isNotEqualTo(wholeOut);
		long kept = 0;
		for (float value : wholeOut) {
			if (value != 0) {
				kept++;
				assertThat(value).isEqualTo(1f / 0.3f);
			}
		}
		assertThat(kept).isBetween(250L, 350L);
	}

	@Test
	void magnitudePruningKeepsExactlyKWithTiesAtTheCutKeptInIndexOrderAcrossChunks() throws java.io.IOException {
		// BF16-like deltas: few distinct magnitudes, so many elements tie at the cut.
		float[] values = new float[1000];
		for (int i = 0; i < values.length; i++) {
			values[i] = ((i % 5) - 2) * 0.5f;
		}
		long k = 300;
		TopK.Cut cut = TopK.select((consumer) -> consumer.accept(values.clone(), values.length), values.length, k);
		assertThat(cut.keepsAllTies()).as("the cut splits a tie").isFalse();
		Merge merge = new Merge(new MergeMethod.MagnitudePrune(0.3), new float[] { 1f }, new TopK.Cut[] { cut }, "w");
		float[] merged = new float[values.length];
		for (int start = 0; start < values.length; start += 333) {
			int count = Math.min(333, values.length - start);
			float[][] chunk = { java.util.Arrays.copyOfRange(values, start, start + count) };
			float[] out = new float[count];
			merge.apply(chunk, start, count, out);
			System.arraycopy(out, 0, merged, start, count);
		}
		long kept = 0;
		int lastKeptTie = -1;
		int firstDroppedTie = Integer.MAX_VALUE;
		for (int i = 0; i < values.length; i++) {
			if (merged[i] != 0) {
				kept++;
				assertThat(merged[i]).isEqualTo(values[i]);
			}
			if (Math.abs(values[i]) == 1f) {
				if (merged[i] != 0) {
					lastKeptTie = i;
				}
				else {
					firstDroppedTie = Math.min(firstDroppedTie, i);
				}
			}
		}
		assertThat(kept).isEqualTo(k);
		assertThat(lastKeptTie).as("ties survive in index order").isLessThan(firstDroppedTie);
	}

}
