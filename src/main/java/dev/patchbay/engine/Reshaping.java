package dev.patchbay.engine;

import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * The index arithmetic of structural transforms (block removal, weight inheritance,
 * kernel inflation), on one host tensor at a time: row-major arrays and their shapes,
 * never the model.
 */
public final class Reshaping {

	private Reshaping() {
	}

	/**
	 * Keeps the given indices of every dimension of a row-major tensor of any dtype: the
	 * result has shape {@code [keep[0].length, …]}, element {@code (a, b, …)} being the
	 * source's {@code (keep[0][a], keep[1][b], …)}.
	 * @param elementSize bytes per element
	 * @param keep per dimension the indices to keep, in order, or null to keep all
	 */
	public static byte[] gather(byte[] source, long[] shape, int elementSize, int[][] keep) {
		int rank = shape.length;
		int[][] indices = new int[rank][];
		long[] strides = new long[rank];
		long stride = elementSize;
		long outSize = elementSize;
		for (int d = rank - 1; d >= 0; d--) {
			strides[d] = stride;
			stride *= shape[d];
			indices[d] = (keep[d] != null) ? keep[d] : IntStream.range(0, Math.toIntExact(shape[d])).toArray();
			outSize *= indices[d].length;
		}
		byte[] out = new byte[Math.toIntExact(outSize)];
		if (rank == 0) {
			System.arraycopy(source, 0, out, 0, elementSize);
			return out;
		}
		// The last dimension is copied in runs of consecutive indices.
		int[] last = indices[rank - 1];
		int[] position = new int[rank - 1];
		int written = 0;
		long rows = outSize / ((long) last.length * elementSize);
		for (long row = 0; row < rows; row++) {
			long base = 0;
			for (int d = 0; d < rank - 1; d++) {
				base += indices[d][position[d]] * strides[d];
			}
			int i = 0;
			while (i < last.length) {
				int run = 1;
				while (i + run < last.length && last[i + run] == last[i] + run) {
					run++;
				}
				int bytes = run * elementSize;
				System.arraycopy(source, Math.toIntExact(base + last[i] * (long) elementSize), out, written, bytes);
				written += bytes;
				i += run;
			}
			for (int d = rank - 2; d >= 0; d--) {
				if (++position[d] < indices[d].length) {
					break;
				}
				position[d] = 0;
			}
		}
		return out;
	}

	/** The indices 0 … n − 1. */
	public static int[] leading(int n) {
		return IntStream.range(0, n).toArray();
	}

	/**
	 * The {@code count} indices with the largest scores, ascending; ties go to the lower
	 * index, so the choice is deterministic.
	 */
	public static int[] largest(double[] scores, int count) {
		Integer[] order = IntStream.range(0, scores.length).boxed().toArray(Integer[]::new);
		Arrays.sort(order, Comparator.comparingDouble((Integer i) -> -scores[i]).thenComparingInt((i) -> i));
		int[] kept = new int[count];
		for (int i = 0; i < count; i++) {
			kept[i] = order[i];
		}
		Arrays.sort(kept);
		return kept;
	}

	/**
	 * Adds each row's squared L2 norm of a row-major [rows, columns] matrix to scores.
	 */
	public static void addRowSquares(float[] matrix, int rows, int columns, double[] scores) {
		for (int r = 0; r < rows; r++) {
			double sum = 0;
			for (int c = 0; c < columns; c++) {
				double v = matrix[r * columns + c];
				sum += v * v;
			}
			scores[r] += sum;
		}
	}

	/**
	 * Adds each column's squared L2 norm of a row-major [rows, columns] matrix to scores.
	 */
	public static void addColumnSquares(float[] matrix, int rows, int columns, double[] scores) {
		for (int r = 0; r < rows; r++) {
			for (int c = 0; c < columns; c++) {
				double v = matrix[r * columns + c];
				scores[c] += v * v;
			}
		}
	}

	/**
	 * Inflates a 2D kernel [o, i, kh, kw] to 3D [o, i, kd, kh, kw]: each depth slice is
	 * the kernel divided by kd (I3D's replication, which keeps a constant video's
	 * response), or the kernel at the centre slice kd / 2 and zeros elsewhere.
	 */
	public static float[] inflate(float[] kernel, int channels, int plane, int depth, boolean replicate) {
		float[] out = new float[Math.multiplyExact(kernel.length, depth)];
		int centre = depth / 2;
		for (int c = 0; c < channels; c++) {
			for (int z = 0; z < depth; z++) {
				if (!replicate && z != centre) {
					continue;
				}
				int target = (c * depth + z) * plane;
				for (int p = 0; p < plane; p++) {
					out[target + p] = replicate ? kernel[c * plane + p] / depth : kernel[c * plane + p];
				}
			}
		}
		return out;
	}

	/** The centre slice kd / 2 of a 3D kernel [o, i, kd, kh, kw], as [o, i, kh, kw]. */
	public static float[] centreSlice(float[] kernel, int channels, int depth, int plane) {
		float[] out = new float[channels * plane];
		for (int c = 0; c < channels; c++) {
			System.arraycopy(kernel, (c * depth + depth / 2) * plane, out, c * plane, plane);
		}
		return out;
	}

}
