package dev.patchbay.engine;

import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class LowRankTests {

	@ParameterizedTest
	@CsvSource({ "12, 7, DISTRIBUTE", "7, 12, DISTRIBUTE", "9, 9, RIGHT", "12, 7, LEFT", "7, 12, RIGHT" })
	void aRankDeficientMatrixIsReproducedAndItsTailEnergyIsZero(int rows, int columns, String split) {
		// M = X·Y of rank 3: three factors keep all of it.
		Random random = new Random(rows * 31 + columns);
		float[] x = gaussian(random, rows * 3);
		float[] y = gaussian(random, 3 * columns);
		float[] m = new float[rows * columns];
		for (int r = 0; r < rows; r++) {
			for (int c = 0; c < columns; c++) {
				for (int k = 0; k < 3; k++) {
					m[r * columns + c] += x[r * 3 + k] * y[k * columns + c];
				}
			}
		}
		LowRank.Factorization full = LowRank.factor(m, rows, columns, 3, 0, LowRank.Split.valueOf(split));
		assertThat(full.rank()).isEqualTo(3);
		assertThat(full.energyKept()).isCloseTo(1.0, within(1e-9));
		float[] product = product(full, rows, columns);
		for (int i = 0; i < m.length; i++) {
			assertThat(product[i]).isCloseTo(m[i], within(1e-4f));
		}
		// sv_epsilon drops the zero singular values even when the rank asks for more.
		assertThat(LowRank.factor(m, rows, columns, 6, 1e-3, LowRank.Split.valueOf(split)).rank()).isEqualTo(3);
		LowRank.Factorization one = LowRank.factor(m, rows, columns, 1, 0, LowRank.Split.valueOf(split));
		assertThat(one.energyKept()).isStrictlyBetween(0.0, 1.0);
	}

	private static float[] product(LowRank.Factorization factors, int rows, int columns) {
		float[] out = new float[rows * columns];
		for (int r = 0; r < rows; r++) {
			for (int c = 0; c < columns; c++) {
				for (int k = 0; k < factors.rank(); k++) {
					out[r * columns + c] += factors.b()[r * factors.rank() + k] * factors.a()[k * columns + c];
				}
			}
		}
		return out;
	}

	private static float[] gaussian(Random random, int n) {
		float[] values = new float[n];
		for (int i = 0; i < n; i++) {
			values[i] = (float) random.nextGaussian();
		}
		return values;
	}

}
