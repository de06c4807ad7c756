package dev.patchbay.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Arrays;
import java.util.Random;
import java.util.function.LongSupplier;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import dev.patchbay.composition.KernelProbe;
import dev.patchbay.engine.EngineProperties;
import dev.patchbay.engine.TensorEngine;
import dev.patchbay.shared.DType;
import dev.patchbay.engine.TensorData;

/**
 * Times the composition kernels on this machine: elementwise y += a·x in a Java loop
 * against DJL, TIES top-k selection, and LoRA / DoRA merges of a 4096×4096 layer. Median
 * of the runs after warm-up, with min and max. Run: {@code ./mvnw -Pbench verify} (see
 * BENCHMARKS.md).
 */
public final class KernelBenchmark {

	private static final int RUNS = 7;

	private KernelBenchmark() {
	}

	public static void main(String[] args) throws Exception {
		int elements = (args.length > 0) ? Integer.parseInt(args[0]) : 16 << 20;
		System.out.printf("cores: %d, elements per kernel: %d%n", Runtime.getRuntime().availableProcessors(), elements);
		Random random = new Random(1);
		float[] x = new float[elements];
		float[] y = new float[elements];
		for (int i = 0; i < elements; i++) {
			x[i] = (float) random.nextGaussian();
			y[i] = (float) random.nextGaussian();
		}
		report("axpy, Java loop (y += a*x)", time(() -> {
			long start = System.nanoTime();
			for (int i = 0; i < elements; i++) {
				y[i] += 0.5f * x[i];
			}
			return System.nanoTime() - start;
		}));
		try (NDManager manager = NDManager.newBaseManager();
				NDArray dx = manager.create(x, new Shape(elements));
				NDArray dy = manager.create(y, new Shape(elements))) {
			report("axpy, DJL in place (x.muli(a); y.addi(x))", time(() -> {
				long start = System.nanoTime();
				dx.muli(0.5f);
				dy.addi(dx);
				return System.nanoTime() - start;
			}));
			report("axpy, DJL from Java arrays and back", time(() -> {
				long start = System.nanoTime();
				try (NDManager sub = manager.newSubManager()) {
					NDArray a = sub.create(x, new Shape(elements));
					NDArray b = sub.create(y, new Shape(elements));
					a.muli(0.5f);
					b.addi(a);
					b.toByteBuffer().asFloatBuffer().get(y);
				}
				return System.nanoTime() - start;
			}));
		}
		report("TIES top-k cut (radix select, density 0.2)", time(() -> KernelProbe.topKNanos(x, 0.2)));
		// What bfloat16 costs per element beyond float32: narrowing on write, widening on
		// read.
		ByteBuffer bf16 = ByteBuffer.allocate(elements * 2);
		report("bfloat16 narrowing (round to nearest even)", time(() -> {
			long start = System.nanoTime();
			TensorData.encode(x, elements, DType.BF16, bf16);
			return System.nanoTime() - start;
		}));
		Path file = Files.createTempFile("kernel-bf16", ".bin");
		try {
			Files.write(file, bf16.array());
			report("bfloat16 widening (read from a mapped file)", time(() -> readNanos(file, DType.BF16, y, elements)));
			report("float32 read of the same bytes (half the elements)",
					time(() -> readNanos(file, DType.F32, y, elements / 2)));
		}
		finally {
			Files.delete(file);
		}
		// Both backends on one thread, so that the per-device default is measured.
		for (EngineProperties.BackendChoice backend : List.of(EngineProperties.BackendChoice.JAVA,
				EngineProperties.BackendChoice.DJL)) {
			try (TensorEngine engine = new TensorEngine(
					new EngineProperties(EngineProperties.DeviceChoice.AUTO, backend, 1))) {
				String name = engine.backend().name() + " backend";
				report("LoRA merge 4096x4096, r=16, " + name,
						time(() -> KernelProbe.loraNanos(engine, 4096, 16, false)));
				report("DoRA merge 4096x4096, r=16, " + name,
						time(() -> KernelProbe.loraNanos(engine, 4096, 16, true)));
				report("sum of 3 terms, 1M elements, " + name,
						time(() -> KernelProbe.mergeNanos(engine, 1 << 20, false)));
				report("TIES merge of 3 terms, 1M elements, " + name,
						time(() -> KernelProbe.mergeNanos(engine, 1 << 20, true)));
			}
		}
	}

	private static long readNanos(Path file, DType dtype, float[] out, int count) {
		long start = System.nanoTime();
		try {
			TensorData.readFloats(file, 0, dtype, 0, out, count);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		return System.nanoTime() - start;
	}

	private static long[] time(LongSupplier run) {
		run.getAsLong();
		run.getAsLong();
		long[] nanos = new long[RUNS];
		for (int i = 0; i < RUNS; i++) {
			nanos[i] = run.getAsLong();
		}
		Arrays.sort(nanos);
		return nanos;
	}

	private static void report(String name, long[] sortedNanos) {
		System.out.printf("| %-45s | %8.1f | %8.1f | %8.1f |%n", name, sortedNanos[RUNS / 2] / 1e6,
				sortedNanos[0] / 1e6, sortedNanos[RUNS - 1] / 1e6);
	}

}
