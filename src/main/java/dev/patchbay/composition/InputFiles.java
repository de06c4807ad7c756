package dev.patchbay.composition;

import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import dev.patchbay.engine.TensorData;
import dev.patchbay.shared.DType;
import dev.patchbay.storage.MappedFile;

/**
 * The input files of one execution, each mapped once and sliced by every chunk that reads
 * it, from any thread.
 */
final class InputFiles implements Closeable {

	private final Map<Path, MappedFile> files = new ConcurrentHashMap<>();

	/** Bytes of elements [first, first + count) of a tensor, all inside it. */
	ByteBuffer elements(TensorRows tensor, long first, int count) throws IOException {
		DType dtype = tensor.tensor().spec().dtype();
		return bytes(tensor.file(), tensor.tensor().dataOffset() + first * dtype.byteSize(),
				Math.multiplyExact(count, dtype.byteSize()));
	}

	ByteBuffer bytes(Path file, long position, int length) throws IOException {
		return file(file).slice(position, length);
	}

	/** A whole (small) tensor as float32, such as a LoRA factor. */
	float[] floats(TensorRows tensor) throws IOException {
		return floats(tensor, 0, Math.toIntExact(tensor.tensor().spec().elementCount()));
	}

	/** Floats [first, first + count) of a tensor. */
	float[] floats(TensorRows tensor, long first, int count) throws IOException {
		float[] values = new float[count];
		DType dtype = tensor.tensor().spec().dtype();
		TensorData.decode(elements(tensor, first, count), dtype, values, count,
				(dtype == DType.BF16) ? new short[count] : null);
		return values;
	}

	private MappedFile file(Path path) throws IOException {
		try {
			return this.files.computeIfAbsent(path, (key) -> {
				try {
					return new MappedFile(key);
				}
				catch (IOException ex) {
					throw new UncheckedIOException(ex);
				}
			});
		}
		catch (UncheckedIOException ex) {
			throw ex.getCause();
		}
	}

	@Override
	public void close() throws IOException {
		for (MappedFile file : this.files.values()) {
			file.close();
		}
	}

}
