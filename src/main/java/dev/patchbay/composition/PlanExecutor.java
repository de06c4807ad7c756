package dev.patchbay.composition;

import java.io.IOException;

import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.StandardOpenOption;
import java.util.List;

import dev.patchbay.composition.Plan.TensorPlan;
import dev.patchbay.storage.SafetensorsWriter;
import dev.patchbay.storage.TensorData;

/**
 * Executes a plan tensor by tensor into a safetensors stream. Memory is bounded by one
 * chunk of rows per term (plus one for the base and one for the merge), never by model
 * size: inputs are memory-mapped span by span and the output is streamed.
 */
final class PlanExecutor {

	/** Receives progress after each tensor. */
	@FunctionalInterface
	interface Progress {

		void tensorDone(int tensorsDone) throws IOException;

	}

	private static final int COPY_BYTES = 64 << 20;

	/**
	 * Chunk size for tensors larger than one chunk when every term is elementwise: 256K
	 * floats (1 MiB per array) keep a chunk's arrays in cache across the merge's passes.
	 * Measured in one benchmark run against 1M-element chunks: TIES 25% faster, bfloat16
	 * sum 18% faster, LoRA 40% slower (more, smaller matmuls), so LoRA keeps the larger
	 * chunks.
	 */
	private static final int ELEMENTWISE_CHUNK_ELEMENTS = 1 << 18;

	private final Plan plan;

	private final int chunkElements;

	// Chunk buffers, reused across tensors so that a model costs no more than its largest
	// chunk.
	private float[] base = new float[0];

	private float[] merged = new float[0];

	private float[][] deltas = new float[0][];

	private ByteBuffer encoded = ByteBuffer.allocate(0);

	PlanExecutor(Plan plan, int chunkElements) {
		this.plan = plan;
		this.chunkElements = chunkElements;
	}

	private void ensureCapacity(int elements, int terms) {
		if (this.base.length < elements || this.deltas.length != terms) {
			int size = Math.max(elements, this.base.length);
			this.base = new float[size];
			this.merged = new float[size];
			this.deltas = new float[terms][size];
			this.encoded = ByteBuffer.allocate(size * Double.BYTES);
		}
	}

	/**
	 * Writes the output to a channel, tensor by tensor; everything reported done has been
	 * handed to the channel.
	 */
	void execute(WritableByteChannel out, Progress progress) throws IOException {
		try (SafetensorsWriter writer = new SafetensorsWriter(out, this.plan.outputSpecs(), Plan.METADATA)) {
			int done = 0;
			for (TensorPlan tensor : this.plan.tensors()) {
				if (tensor.untouched() && tensor.output().equals(tensor.base().tensor().spec())) {
					copy(tensor.base(), writer);
				}
				else {
					compose(tensor, writer);
				}
				progress.tensorDone(++done);
			}
		}
	}

	private static void copy(TensorRows base, SafetensorsWriter writer) throws IOException {
		long length = base.tensor().spec().byteSize();
		try (FileChannel channel = FileChannel.open(base.file(), StandardOpenOption.READ)) {
			for (long done = 0; done < length; done += COPY_BYTES) {
				long span = Math.min(COPY_BYTES, length - done);
				MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, base.tensor().dataOffset() + done,
						span);
				writer.write(map);
			}
		}
	}

	private void compose(TensorPlan tensor, SafetensorsWriter writer) throws IOException {
		List<Long> shape = tensor.output().shape();
		long rows = TensorRows.rowsOf(shape);
		long rowElements = TensorRows.rowElementsOf(shape);
		TermDelta zero = new TermDelta.Zero(rowElements);
		List<TermDelta> terms = tensor.terms().stream().map((term) -> (term != null) ? term : zero).toList();
		boolean whole = terms.stream().anyMatch(TermDelta::needsWholeTensor);
		boolean matmul = terms.stream().anyMatch((term) -> term instanceof TermDelta.Lora);
		long rowsPerChunk = this.chunkElements / Math.max(1, rowElements);
		if (rows > rowsPerChunk && !matmul) {
			rowsPerChunk = Math.min(rowsPerChunk, ELEMENTWISE_CHUNK_ELEMENTS / Math.max(1, rowElements));
		}
		int chunkRows = (int) (whole ? rows : Math.max(1, Math.min(rows, rowsPerChunk)));
		int capacity = Math.toIntExact(chunkRows * rowElements);
		ensureCapacity(capacity, terms.size());
		float[] base = this.base;
		float[] merged = this.merged;
		float[][] deltas = this.deltas;
		boolean oneChunk = chunkRows >= rows;
		TopK.Cut[] cuts = null;
		if (this.plan.method().pruning() == MergeMethod.Pruning.MAGNITUDE) {
			cuts = new TopK.Cut[terms.size()];
			long elements = rows * rowElements;
			long k = (long) (this.plan.method().density() * elements);
			if (oneChunk) {
				fill(tensor, terms, 0, (int) rows, base, deltas);
			}
			for (int term = 0; term < terms.size(); term++) {
				int t = term;
				cuts[term] = TopK.select(oneChunk ? (consumer) -> consumer.accept(deltas[t], capacity)
						: (consumer) -> forEachChunk(rows, chunkRows, (row, n) -> {
							if (terms.get(t).needsBase()) {
								tensor.base().read(row, n, base);
							}
							terms.get(t).compute(row, n, base, deltas[t]);
							consumer.accept(deltas[t], Math.toIntExact(n * rowElements));
						}), elements, k);
			}
		}
		Merge merge = new Merge(this.plan.method(), this.plan.weights(), cuts, tensor.output().name());
		boolean reuse = oneChunk && cuts != null;
		forEachChunk(rows, chunkRows, (row, n) -> {
			int count = Math.toIntExact(n * rowElements);
			if (!reuse) {
				fill(tensor, terms, row, n, base, deltas);
			}
			merge.apply(deltas, row * rowElements, count, merged);
			for (int i = 0; i < count; i++) {
				base[i] += merged[i];
			}
			writer.write(TensorData.encode(base, count, tensor.output().dtype(), this.encoded));
		});
	}

	private static void fill(TensorPlan tensor, List<TermDelta> terms, long row, int rows, float[] base,
			float[][] deltas) throws IOException {
		tensor.base().read(row, rows, base);
		for (int term = 0; term < terms.size(); term++) {
			terms.get(term).compute(row, rows, base, deltas[term]);
		}
	}

	@FunctionalInterface
	private interface RowChunk {

		void accept(long row, int rows) throws IOException;

	}

	private static void forEachChunk(long rows, int chunkRows, RowChunk chunk) throws IOException {
		for (long row = 0; row < rows; row += chunkRows) {
			chunk.accept(row, (int) Math.min(chunkRows, rows - row));
		}
	}

}
