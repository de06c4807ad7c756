package dev.patchbay.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * This machine's floor for a composition: a plain Java pass that memory-maps the same
 * input files, computes y = base + Σ a·x over them as float32, and writes as many output
 * bytes. Any composition reads and writes at least this much. The benchmark writes to
 * {@code /dev/null}, so that the floor is the reads and the arithmetic, not a disk.
 */
final class Floor {

	private static final int CHUNK = 1 << 22;

	private Floor() {
	}

	/**
	 * @param base the base file; its size is the output size
	 * @param deltas files read alongside (only their first base-size bytes matter)
	 * @param output a file to write, or {@code /dev/null}
	 * @return nanoseconds taken
	 */
	static long run(Path base, List<Path> deltas, Path output) throws IOException {
		return run(base, deltas, 0.5f, output);
	}

	/** As {@link #run(Path, List, Path)} with y = base + a·Σx. */
	static long run(Path base, List<Path> deltas, float a, Path output) throws IOException {
		long start = System.nanoTime();
		List<FileChannel> inputs = new ArrayList<>();
		try (FileChannel baseChannel = FileChannel.open(base, StandardOpenOption.READ);
				FileChannel out = FileChannel.open(output, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
						StandardOpenOption.TRUNCATE_EXISTING)) {
			for (Path delta : deltas) {
				inputs.add(FileChannel.open(delta, StandardOpenOption.READ));
			}
			long size = baseChannel.size();
			float[] y = new float[CHUNK / 4];
			float[] x = new float[CHUNK / 4];
			ByteBuffer encoded = ByteBuffer.allocate(CHUNK).order(ByteOrder.LITTLE_ENDIAN);
			for (long position = 0; position < size; position += CHUNK) {
				int length = (int) Math.min(CHUNK, size - position);
				int n = length / 4;
				FloatBuffer baseFloats = baseChannel.map(FileChannel.MapMode.READ_ONLY, position, length)
					.order(ByteOrder.LITTLE_ENDIAN)
					.asFloatBuffer();
				baseFloats.get(y, 0, n);
				for (FileChannel input : inputs) {
					long available = Math.min(length, Math.max(0, input.size() - position));
					input.map(FileChannel.MapMode.READ_ONLY, position, available)
						.order(ByteOrder.LITTLE_ENDIAN)
						.asFloatBuffer()
						.get(x, 0, (int) (available / 4));
					for (int i = 0; i < n; i++) {
						y[i] += a * x[i];
					}
				}
				encoded.clear();
				encoded.asFloatBuffer().put(y, 0, n);
				encoded.limit(length);
				while (encoded.hasRemaining()) {
					out.write(encoded);
				}
			}
		}
		finally {
			for (FileChannel input : inputs) {
				input.close();
			}
		}
		return System.nanoTime() - start;
	}

}
