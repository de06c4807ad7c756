package dev.patchbay.transform;

import java.util.List;
import java.util.Map;

/**
 * A transform as a caller asks for it, before {@link Transforms} checks it against the
 * model: one record per kind, so that a setting of another kind cannot be given at all.
 */
public sealed interface Transform
		permits Transform.DropBlocks, Transform.Inherit, Transform.Inflate, Transform.Quantize {

	/**
	 * The kind's name: the default suffix of the new model's name, its lineage relation
	 * and the {@code kind} of its report.
	 */
	String kind();

	/**
	 * Removes blocks and renumbers the rest.
	 *
	 * @param blocks the blocks to remove
	 */
	record DropBlocks(List<Integer> blocks) implements Transform {

		@Override
		public String kind() {
			return "drop_blocks";
		}

	}

	/**
	 * A smaller student inheriting the teacher's weights (TinyCLIP).
	 *
	 * @param blocks the blocks to keep, in increasing order
	 * @param every instead of a list, keep every k-th block (0, k, 2k, …)
	 * @param widths the student's widths; null keeps the teacher's
	 */
	record Inherit(List<Integer> blocks, Integer every, Widths widths) implements Transform {

		@Override
		public String kind() {
			return "inherit";
		}

	}

	/**
	 * The widths of an inherited student; each null keeps the teacher's.
	 *
	 * @param hiddenSize the model width
	 * @param intermediateSize the MLP width
	 * @param numAttentionHeads query heads
	 * @param numKeyValueHeads key and value heads
	 */
	record Widths(Integer hiddenSize, Integer intermediateSize, Integer numAttentionHeads, Integer numKeyValueHeads) {

		static final Widths TEACHER = new Widths(null, null, null, null);

	}

	/**
	 * 2D kernels inflated to 3D.
	 *
	 * @param include regexes choosing the kernels
	 * @param depth kd of the 3D kernels (replicate, center)
	 * @param method replicate, center or center_slice
	 */
	record Inflate(List<String> include, Integer depth, String method) implements Transform {

		@Override
		public String kind() {
			return "inflate";
		}

	}

	/**
	 * A quantized export of the Linear weights.
	 *
	 * @param bits 8 or 4
	 * @param granularity channel or group
	 * @param groupSize 32, 64 or 128 columns per group
	 * @param symmetric symmetric codes (default true)
	 * @param scheme int (default) or pow2
	 */
	record Quantize(Integer bits, String granularity, Integer groupSize, Boolean symmetric,
			String scheme) implements Transform {

		@Override
		public String kind() {
			return "quantize";
		}

	}

	/**
	 * What the new model is registered as.
	 *
	 * @param name its name; null for the source's name and the kind
	 * @param version an optional version
	 * @param labels optional labels
	 */
	record Target(String name, String version, Map<String, String> labels) {
	}

}
