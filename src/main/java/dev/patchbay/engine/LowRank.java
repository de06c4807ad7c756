package dev.patchbay.engine;

/**
 * Truncated singular value decompositions on the host, in double precision: DJL 0.36
 * exposes no SVD (its {@code NDArray} has no {@code linalg.svd}), so both backends share
 * this one. One-sided Jacobi (Hestenes) rotations orthogonalize the columns of the
 * matrix, or of its transpose when it is wide; whole matrices are held, since an SVD
 * needs all of one.
 */
public final class LowRank {

	private static final int MAX_SWEEPS = 60;

	/**
	 * Matrices whose smaller side is above this, asked for a rank of at most a quarter of
	 * it (less the oversampling), take the randomized path: Jacobi costs O(n²·m) per
	 * sweep, hours for an LLM's 4096 × 11008 projection.
	 */
	static final int RANDOMIZED_ABOVE = 512;

	/** Extra directions sampled beyond the rank asked for. */
	private static final int OVERSAMPLING = 10;

	/** Subspace (power) iterations: the spectrum's tail decays as σ^(2q+1). */
	private static final int POWER_ITERATIONS = 4;

	private LowRank() {
	}

	/**
	 * Factors a row-major {@code rows × columns} matrix M as B·A with B [rows, rank] and
	 * A [rank, columns], keeping the {@code maxRank} largest singular values (of those
	 * above {@code epsilon} when it is positive), as {@code mergekit-extract-lora} does.
	 * @param split where the singular values go
	 */
	public static Factorization factor(float[] matrix, int rows, int columns, int maxRank, double epsilon,
			Split split) {
		int small = Math.min(rows, columns);
		if (small > RANDOMIZED_ABOVE && maxRank + OVERSAMPLING <= small / 4) {
			return randomized(matrix, rows, columns, maxRank, epsilon, split);
		}
		boolean wide = columns > rows;
		// Work on a tall m × n matrix stored by columns: M, or Mᵀ when M is wide.
		int m = wide ? columns : rows;
		int n = wide ? rows : columns;
		double[][] u = new double[n][m];
		for (int r = 0; r < rows; r++) {
			for (int c = 0; c < columns; c++) {
				double value = matrix[r * columns + c];
				if (wide) {
					u[r][c] = value;
				}
				else {
					u[c][r] = value;
				}
			}
		}
		double[][] v = new double[n][n];
		for (int i = 0; i < n; i++) {
			v[i][i] = 1;
		}
		sweep(u, v);
		double[] singular = new double[n];
		Integer[] order = new Integer[n];
		double energy = 0;
		for (int i = 0; i < n; i++) {
			singular[i] = Math.sqrt(dot(u[i], u[i]));
			energy += singular[i] * singular[i];
			order[i] = i;
		}
		java.util.Arrays.sort(order, (x, y) -> Double.compare(singular[y], singular[x]));
		int rank = Math.min(maxRank, n);
		if (epsilon > 0) {
			int above = 0;
			for (double s : singular) {
				above += (s > epsilon) ? 1 : 0;
			}
			rank = Math.min(rank, above);
		}
		float[] b = new float[rows * rank];
		float[] a = new float[rank * columns];
		double kept = 0;
		for (int k = 0; k < rank; k++) {
			int i = order[k];
			double s = singular[i];
			kept += s * s;
			if (s == 0) {
				// A zero direction adds nothing; its factors stay zero.
				continue;
			}
			double left = split.left(s);
			double right = s / left;
			// The tall matrix is U·S·Vᵀ: column i of u is s·U_i. For a wide M, M =
			// V·S·Uᵀ.
			double[] leftVector = wide ? v[i] : u[i];
			double[] rightVector = wide ? u[i] : v[i];
			double leftNorm = wide ? 1 : s;
			double rightNorm = wide ? s : 1;
			for (int r = 0; r < rows; r++) {
				b[r * rank + k] = (float) (leftVector[r] / leftNorm * left);
			}
			for (int c = 0; c < columns; c++) {
				a[k * columns + c] = (float) (rightVector[c] / rightNorm * right);
			}
		}
		return new Factorization(b, a, rank, (energy == 0) ? 1 : kept / energy);
	}

	/**
	 * Randomized truncated SVD (Halko, Martinsson and Tropp 2011, algorithms 4.4 and
	 * 5.1): an orthonormal basis Q of M·Ω for a Gaussian Ω of rank + 10 columns, refined
	 * by 4 subspace iterations, then the exact SVD of the small QᵀM by Jacobi. The random
	 * start has a fixed seed, so the result is reproducible; its error is that of the
	 * best rank-r approximation up to a factor that the power iterations drive to 1 when
	 * the spectrum has a gap. The energy kept is measured against the exact ‖M‖²_F.
	 */
	static Factorization randomized(float[] matrix, int rows, int columns, int maxRank, double epsilon, Split split) {
		int l = Math.min(Math.min(rows, columns), maxRank + OVERSAMPLING);
		java.util.Random random = new java.util.Random(0x5eedL);
		double[] omega = new double[columns * l];
		for (int i = 0; i < omega.length; i++) {
			omega[i] = random.nextGaussian();
		}
		double[] q = new double[rows * l];
		multiply(matrix, rows, columns, omega, l, q);
		orthonormalize(q, rows, l);
		double[] z = new double[columns * l];
		for (int iteration = 0; iteration < POWER_ITERATIONS; iteration++) {
			multiplyTransposed(matrix, rows, columns, q, l, z);
			orthonormalize(z, columns, l);
			multiply(matrix, rows, columns, z, l, q);
			orthonormalize(q, rows, l);
		}
		// (QᵀM)ᵀ = MᵀQ, columns × l: tall, so Jacobi on its l columns.
		multiplyTransposed(matrix, rows, columns, q, l, z);
		double[][] u = new double[l][columns];
		for (int c = 0; c < columns; c++) {
			for (int j = 0; j < l; j++) {
				u[j][c] = z[c * l + j];
			}
		}
		double[][] v = new double[l][l];
		for (int i = 0; i < l; i++) {
			v[i][i] = 1;
		}
		sweep(u, v);
		double[] singular = new double[l];
		Integer[] order = new Integer[l];
		for (int i = 0; i < l; i++) {
			singular[i] = Math.sqrt(dot(u[i], u[i]));
			order[i] = i;
		}
		java.util.Arrays.sort(order, (x, y) -> Double.compare(singular[y], singular[x]));
		double energy = 0;
		for (float value : matrix) {
			energy += (double) value * value;
		}
		int rank = Math.min(maxRank, l);
		if (epsilon > 0) {
			int above = 0;
			for (int k = 0; k < rank; k++) {
				above += (singular[order[k]] > epsilon) ? 1 : 0;
			}
			rank = above;
		}
		float[] b = new float[rows * rank];
		float[] a = new float[rank * columns];
		double kept = 0;
		for (int k = 0; k < rank; k++) {
			int i = order[k];
			double s = singular[i];
			kept += s * s;
			if (s == 0) {
				continue;
			}
			double left = split.left(s);
			double right = s / left;
			// M ≈ Q·(MᵀQ)ᵀ = Q·V·S·Uᵀ: the left vector is Q·vᵢ, the right uᵢ / s.
			for (int r = 0; r < rows; r++) {
				double sum = 0;
				for (int j = 0; j < l; j++) {
					sum += q[r * l + j] * v[i][j];
				}
				b[r * rank + k] = (float) (sum * left);
			}
			for (int c = 0; c < columns; c++) {
				a[k * columns + c] = (float) (u[i][c] / s * right);
			}
		}
		return new Factorization(b, a, rank, (energy == 0) ? 1 : Math.min(1, kept / energy));
	}

	/** Jacobi sweeps on the columns u (rotations accumulated in v) until orthogonal. */
	private static void sweep(double[][] u, double[][] v) {
		int n = u.length;
		for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
			boolean rotated = false;
			for (int p = 0; p < n - 1; p++) {
				for (int q = p + 1; q < n; q++) {
					double alpha = dot(u[p], u[p]);
					double beta = dot(u[q], u[q]);
					double gamma = dot(u[p], u[q]);
					if (gamma == 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) {
						continue;
					}
					rotated = true;
					double zeta = (beta - alpha) / (2 * gamma);
					double t = Math.signum(zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
					if (zeta == 0) {
						t = 1;
					}
					double cos = 1 / Math.sqrt(1 + t * t);
					double sin = cos * t;
					rotate(u[p], u[q], cos, sin);
					rotate(v[p], v[q], cos, sin);
				}
			}
			if (!rotated) {
				return;
			}
		}
	}

	/** out [rows, l] = M [rows, columns] · x [columns, l], all row-major. */
	private static void multiply(float[] m, int rows, int columns, double[] x, int l, double[] out) {
		java.util.Arrays.fill(out, 0);
		for (int r = 0; r < rows; r++) {
			int row = r * l;
			for (int c = 0; c < columns; c++) {
				double value = m[r * columns + c];
				int from = c * l;
				for (int j = 0; j < l; j++) {
					out[row + j] += value * x[from + j];
				}
			}
		}
	}

	/** out [columns, l] = Mᵀ · y for y [rows, l], all row-major. */
	private static void multiplyTransposed(float[] m, int rows, int columns, double[] y, int l, double[] out) {
		java.util.Arrays.fill(out, 0);
		for (int r = 0; r < rows; r++) {
			int from = r * l;
			for (int c = 0; c < columns; c++) {
				double value = m[r * columns + c];
				int to = c * l;
				for (int j = 0; j < l; j++) {
					out[to + j] += value * y[from + j];
				}
			}
		}
	}

	/**
	 * Orthonormalizes the l columns of a row-major [n, l] matrix in place by modified
	 * Gram–Schmidt, twice ("twice is enough"); a dependent column becomes zero.
	 */
	private static void orthonormalize(double[] x, int n, int l) {
		for (int pass = 0; pass < 2; pass++) {
			for (int j = 0; j < l; j++) {
				for (int k = 0; k < j; k++) {
					double dot = 0;
					for (int i = 0; i < n; i++) {
						dot += x[i * l + j] * x[i * l + k];
					}
					for (int i = 0; i < n; i++) {
						x[i * l + j] -= dot * x[i * l + k];
					}
				}
				double norm = 0;
				for (int i = 0; i < n; i++) {
					norm += x[i * l + j] * x[i * l + j];
				}
				norm = Math.sqrt(norm);
				for (int i = 0; i < n; i++) {
					x[i * l + j] = (norm > 1e-300) ? x[i * l + j] / norm : 0;
				}
			}
		}
	}

	private static double dot(double[] x, double[] y) {
		double sum = 0;
		for (int i = 0; i < x.length; i++) {
			sum += x[i] * y[i];
		}
		return sum;
	}

	private static void rotate(double[] x, double[] y, double cos, double sin) {
		for (int i = 0; i < x.length; i++) {
			double xi = x[i];
			double yi = y[i];
			x[i] = cos * xi - sin * yi;
			y[i] = sin * xi + cos * yi;
		}
	}

	/**
	 * PEFT's {@code svd_clamp}: both factors clamped to [−hi, hi], hi being the
	 * {@code quantile} (linear interpolation, as {@code torch.quantile}) of all their
	 * entries together, signed. The singular vectors' signs are this SVD's own, so which
	 * entries the cut reaches may differ from LAPACK's choice, as LAPACK's differ among
	 * its builds (reference LAPACK and MKL flip different pairs of the same matrix).
	 * @return the clamped factors
	 */
	public static Factorization clamp(Factorization factors, double quantile) {
		float[] b = factors.b();
		float[] a = factors.a();
		float[] all = new float[b.length + a.length];
		System.arraycopy(b, 0, all, 0, b.length);
		System.arraycopy(a, 0, all, b.length, a.length);
		if (all.length == 0) {
			return factors;
		}
		java.util.Arrays.sort(all);
		double position = quantile * (all.length - 1);
		int low = (int) Math.floor(position);
		int high = Math.min(all.length - 1, low + 1);
		float hi = (float) (all[low] + (position - low) * ((double) all[high] - all[low]));
		float[] clampedB = b.clone();
		float[] clampedA = a.clone();
		for (int i = 0; i < clampedB.length; i++) {
			clampedB[i] = Math.max(-hi, Math.min(hi, clampedB[i]));
		}
		for (int i = 0; i < clampedA.length; i++) {
			clampedA[i] = Math.max(-hi, Math.min(hi, clampedA[i]));
		}
		return new Factorization(clampedB, clampedA, factors.rank(), factors.energyKept());
	}

	/** Where the singular values S of U·S·Vᵀ go. */
	public enum Split {

		/** B = U·√S, A = √S·Vᵀ: mergekit-extract-lora's default. */
		DISTRIBUTE,

		/** B = U·S, A = Vᵀ: PEFT's {@code add_weighted_adapter}. */
		LEFT,

		/** B = U, A = S·Vᵀ. */
		RIGHT;

		/** The share of a singular value s that goes into B; A gets s over it. */
		double left(double s) {
			return switch (this) {
				case DISTRIBUTE -> Math.sqrt(s);
				case LEFT -> s;
				case RIGHT -> 1;
			};
		}

	}

	/**
	 * M ≈ B·A.
	 *
	 * @param b [rows, rank], row-major
	 * @param a [rank, columns], row-major
	 * @param rank the rank kept
	 * @param energyKept Σ kept S² / Σ S²: the fraction of ‖M‖²_F the factors keep (1 for
	 * a zero matrix)
	 */
	public record Factorization(float[] b, float[] a, int rank, double energyKept) {
	}

}
