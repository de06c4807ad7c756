package dev.patchbay.inference;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class SweepsTests {

	private static SweepSummary.Result result(double weight, double clean, double noise) {
		Map<String, Double> accuracy = new LinkedHashMap<>();
		accuracy.put("clean", clean);
		accuracy.put("noise", noise);
		return new SweepSummary.Result(List.of(weight), accuracy);
	}

	private static final List<SweepSummary.Result> RESULTS = List.of(result(0.0, 0.9, 0.5), result(1.0, 0.8, 0.7),
			result(2.0, 0.6, 0.8));

	@Test
	void theMeanObjectiveScoresTheMeanOverSplits() {
		SweepSummary.Best best = Sweeps.best(RESULTS, new SweepDraft.Objective("mean"));
		assertThat(best.weights()).containsExactly(1.0);
		assertThat(best.score()).isCloseTo(0.75, within(1e-12));
	}

	@Test
	void theMinObjectiveScoresTheWorstSplit() {
		SweepSummary.Best best = Sweeps.best(RESULTS, new SweepDraft.Objective("min"));
		assertThat(best.weights()).containsExactly(1.0);
		assertThat(best.score()).isCloseTo(0.7, within(1e-12));
	}

	@Test
	void aSplitObjectiveScoresThatSplit() {
		assertThat(Sweeps.best(RESULTS, new SweepDraft.Objective("noise")).weights()).containsExactly(2.0);
		assertThat(Sweeps.best(RESULTS, new SweepDraft.Objective("clean")).weights()).containsExactly(0.0);
	}

	@Test
	void aTieGoesToTheFirstPointInGridOrderAndNoResultsMeanNoBest() {
		List<SweepSummary.Result> tied = List.of(result(0.0, 0.5, 0.5), result(1.0, 0.5, 0.5));
		assertThat(Sweeps.best(tied, new SweepDraft.Objective("mean")).weights()).containsExactly(0.0);
		assertThat(Sweeps.best(List.of(), new SweepDraft.Objective("mean"))).isNull();
	}

}
