package dev.patchbay.transform;

import java.util.List;
import java.util.Map;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A structural or precision transform of a registered model into a new one. Which fields
 * apply depends on {@code kind}; a field another kind uses is refused.
 *
 * @param kind {@code drop_blocks}, {@code inherit}, {@code inflate} or {@code quantize}
 * @param name the new model's name (default: the source's name and the kind)
 * @param version an optional version
 * @param labels optional labels
 * @param blocks drop_blocks: the blocks to remove; inherit: the blocks to keep, in
 * increasing order
 * @param every inherit: keep every k-th block (0, k, 2k, …) instead of a list
 * @param config inherit: the student's widths (each defaults to the teacher's)
 * @param include inflate: regexes choosing the kernels
 * @param depth inflate: kd of the 3D kernels ({@code replicate}, {@code center})
 * @param method inflate: {@code replicate}, {@code center} or {@code center_slice}
 * @param bits quantize: 8 or 4
 * @param granularity quantize: {@code channel} or {@code group}
 * @param groupSize quantize: 32, 64 or 128 columns per group
 * @param symmetric quantize: symmetric codes (default true)
 * @param scheme quantize: {@code int} (default) or {@code pow2}
 */
public record TransformRequest(String kind, String name, String version, Map<String, String> labels,
		List<Integer> blocks, Integer every, StudentConfig config, List<String> include, Integer depth, String method,
		Integer bits, String granularity, Integer groupSize, Boolean symmetric, String scheme) {

	/**
	 * The widths of an inherited student, named as in {@code config.json}.
	 *
	 * @param hiddenSize the model width
	 * @param intermediateSize the MLP width
	 * @param numAttentionHeads query heads
	 * @param numKeyValueHeads key and value heads
	 */
	public record StudentConfig(@JsonProperty("hidden_size") Integer hiddenSize,
			@JsonProperty("intermediate_size") Integer intermediateSize,
			@JsonProperty("num_attention_heads") Integer numAttentionHeads,
			@JsonProperty("num_key_value_heads") Integer numKeyValueHeads) {
	}

}
