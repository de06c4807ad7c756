package dev.patchbay.composition;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

import dev.patchbay.registry.TensorLocation;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.engine.TensorEngine;

/**
 * Runs the package-private composition kernels for the benchmark harness, one call per
 * timing.
 */
public final class KernelProbe {

	private KernelProbe() {
	}

	/** Times one top-k cut over the values. */
	public static long topKNanos(float[] values, double density) {
		long start = System.nanoTime();
		try {
			TopK.select((consumer) -> consumer.accept(values, values.length), values.length,
					(long) (density * values.length));
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		return System.nanoTime() - start;
	}

	/**
	 * Times one LoRA (or DoRA) delta of a side×side layer, with inputs on disk as in
	 * production.
	 */
	public static long loraNanos(TensorEngine engine, int side, int rank, boolean dora) {
		try {
			Path dir = Files.createTempDirectory("lora-probe");
			TensorRows a = rows(dir, "a", rank, side);
			TensorRows b = rows(dir, "b", side, rank);
			TensorRows magnitude = dora ? rows(dir, "m", side, 1) : null;
			TermDelta.Lora lora = new TermDelta.Lora(engine, a, b, magnitude, 2f, false);
			float[] base = new float[side * side];
			float[] out = new float[side * side];
			long start = System.nanoTime();
			lora.compute(0, side, base, out);
			long elapsed = System.nanoTime() - start;
			try (var files = Files.list(dir)) {
				for (Path file : files.toList()) {
					Files.delete(file);
				}
			}
			Files.delete(dir);
			return elapsed;
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	private static TensorRows rows(Path dir, String name, int rows, int columns) throws IOException {
		ByteBuffer data = ByteBuffer.allocate(rows * columns * 4).order(ByteOrder.LITTLE_ENDIAN);
		for (int i = 0; i < rows * columns; i++) {
			data.putFloat(((i * 13) % 29 - 14) * 0.01f);
		}
		Path file = Files.write(dir.resolve(name), data.array());
		TensorSpec spec = (columns == 1) ? TensorSpec.of(name, DType.F32, rows)
				: TensorSpec.of(name, DType.F32, rows, columns);
		return new TensorRows(file, new TensorLocation(name, "F32", spec.shapeArray(), 0, 0));
	}

}
