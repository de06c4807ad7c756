package dev.patchbay.engine;

import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class LowRankTests {

	/**
	 * Above {@link LowRank#RANDOMIZED_ABOVE} the randomized path runs: on a matrix built
	 * here with known singular values 10·0.8^i, its rank-r error is the best one, the
	 * tail √Σ_{i≥r} sᵢ² (Eckart–Young), and the energy kept is the head's share.
	 */
	@org.junit.jupiter.api.Test
	void largeMatricesGetTheBestLowRankApproximationFromTheRandomizedPath() {
		int rows = 700;
		int columns = 600;
		int k = 40;
		int rank = 16;
		Random random = new Random(7);
		double[][] left = orthonormal(random, k, rows);
		double[][] right = orthonormal(random, k, columns);
		double[] singular = new double[k];
		double head = 0;
		double total = 0;
		for (int i = 0; i < k; i++) {
			singular[i] = 10 * Math.pow(0.8, i);
			total += singular[i] * singular[i];
			head += (i < rank) ? singular[i] * singular[i] : 0;
		}
		float[] m = new float[rows * columns];
		for (int r = 0; r < rows; r++) {
			for (int c = 0; c < columns; c++) {
				double sum = 0;
				for (int i = 0; i < k; i++) {
					sum += left[i][r] * singular[i] * right[i][c];
				}
				m[r * columns + c] = (float) sum;
			}
		}
		long start = System.nanoTime();
		LowRank.Factorization factors = LowRank.factor(m, rows, columns, rank, 0, LowRank.Split.DISTRIBUTE);
		long millis = (System.nanoTime() - start) / 1_000_000;
		assertThat(factors.rank()).isEqualTo(rank);
		float[] product = product(factors, rows, columns);
		double error = 0;
		for (int i = 0; i < m.length; i++) {
			error += ((double) product[i] - m[i]) * ((double) product[i] - m[i]);
		}
		double tail = Math.sqrt(total - head);
		assertThat(Math.sqrt(error)).as("rank-%d error (%d ms)", rank, millis).isCloseTo(tail, within(1e-3 * tail));
		assertThat(factors.energyKept()).isCloseTo(head / total, within(1e-5));
	}

	/** k orthonormal vectors of length n, by Gram–Schmidt on Gaussian ones. */
	private static double[][] orthonormal(Random random, int k, int n) {
		double[][] vectors = new double[k][n];
		for (int i = 0; i < k; i++) {
			for (int j = 0; j < n; j++) {
				vectors[i][j] = random.nextGaussian();
			}
			for (int pass = 0; pass < 2; pass++) {
				for (int p = 0; p < i; p++) {
					double dot = 0;
					for (int j = 0; j < n; j++) {
						dot += vectors[i][j] * vectors[p][j];
					}
					for (int j = 0; j < n; j++) {
						vectors[i][j] -= dot * vectors[p][j];
					}
				}
			}
			double norm = 0;
			for (int j = 0; j < n; j++) {
				norm += vectors[i][j] * vectors[i][j];
			}
			for (int j = 0; j < n; j++) {
				vectors[i][j] /= Math.sqrt(norm);
			}
		}
		return vectors;
	}

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
