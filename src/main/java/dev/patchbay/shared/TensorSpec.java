package dev.patchbay.shared;

import java.util.Arrays;
import java.util.List;
import java.util.regex.Pattern;

/**
 * A tensor's name, element type and shape: what a manifest records about it.
 *
 * @param name the tensor name, e.g. {@code model.layers.0.self_attn.q_proj.weight}
 * @param dtype the element type
 * @param shape the dimensions, outermost first
 */
public record TensorSpec(String name, DType dtype, List<Long> shape) {

	private static final Pattern VOCABULARY = Pattern
		.compile(".*(embed_tokens|word_embeddings|wte|lm_head|embed_in|embed_out)\\.weight");

	public TensorSpec {
		shape = List.copyOf(shape);
	}

	/**
	 * Embedding and output-head tables, whose rows are vocabulary entries: fine-tunes may
	 * add rows, and the fine-tuning transfer rule zero-pads them to the larger row count.
	 */
	public boolean isVocabularyTable() {
		return VOCABULARY.matcher(this.name).matches() && this.shape.size() == 2;
	}

	public static TensorSpec of(String name, DType dtype, long... shape) {
		return new TensorSpec(name, dtype, Arrays.stream(shape).boxed().toList());
	}

	/**
	 * Number of elements, which is 1 for a scalar.
	 * @throws ArithmeticException if the count overflows a long
	 */
	public long elementCount() {
		long count = 1;
		for (long dim : this.shape) {
			count = Math.multiplyExact(count, dim);
		}
		return count;
	}

	public long byteSize() {
		return Math.multiplyExact(elementCount(), this.dtype.byteSize());
	}

	public long[] shapeArray() {
		return this.shape.stream().mapToLong(Long::longValue).toArray();
	}

}
