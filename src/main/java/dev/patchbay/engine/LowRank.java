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
				break;
			}
		}
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
			double left = switch (split) {
				case DISTRIBUTE -> Math.sqrt(s);
				case LEFT -> s;
				case RIGHT -> 1;
			};
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

	/** Where the singular values S of U·S·Vᵀ go. */
	public enum Split {

		/** B = U·√S, A = √S·Vᵀ: mergekit-extract-lora's default. */
		DISTRIBUTE,

		/** B = U·S, A = Vᵀ: PEFT's {@code add_weighted_adapter}. */
		LEFT,

		/** B = U, A = S·Vᵀ. */
		RIGHT

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
