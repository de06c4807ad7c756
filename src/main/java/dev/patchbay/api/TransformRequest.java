package dev.patchbay.api;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.fasterxml.jackson.annotation.JsonProperty;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.transform.Transform;

/**
 * The body of {@code POST /api/v1/models/{id}/transforms}: one flat object for every
 * kind, as the contract has it. Which fields apply depends on {@code kind};
 * {@link #transform()} refuses a field another kind uses, and the transform module checks
 * the rest against the model.
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
record TransformRequest(String kind, String name, String version, Map<String, String> labels, List<Integer> blocks,
		Integer every, StudentConfig config, List<String> include, Integer depth, String method, Integer bits,
		String granularity, Integer groupSize, Boolean symmetric, String scheme) {

	/** The fields each kind takes, beyond name, version and labels. */
	// A field of another kind is refused rather than ignored, so a typo in kind cannot
	// silently drop the parameters the caller meant.
	private static final Map<String, Set<String>> FIELDS = Map.of("drop_blocks", Set.of("blocks"), "inherit",
			Set.of("blocks", "every", "config"), "inflate", Set.of("include", "depth", "method"), "quantize",
			Set.of("bits", "granularity", "groupSize", "symmetric", "scheme"));

	/**
	 * The widths of an inherited student, named as in {@code config.json}.
	 *
	 * @param hiddenSize the model width
	 * @param intermediateSize the MLP width
	 * @param numAttentionHeads query heads
	 * @param numKeyValueHeads key and value heads
	 */
	record StudentConfig(@JsonProperty("hidden_size") Integer hiddenSize,
			@JsonProperty("intermediate_size") Integer intermediateSize,
			@JsonProperty("num_attention_heads") Integer numAttentionHeads,
			@JsonProperty("num_key_value_heads") Integer numKeyValueHeads) {
	}

	/** What the new model is registered as. */
	Transform.Target target() {
		return new Transform.Target(this.name, this.version, this.labels);
	}

	/**
	 * The transform of its kind.
	 * @throws InvalidInputException for an unknown kind, or a field another kind uses
	 */
	Transform transform() {
		if (this.kind == null || !FIELDS.containsKey(this.kind)) {
			throw invalid("kind", "must be one of drop_blocks, inherit, inflate, quantize");
		}
		// In the contract's order, so that the field named is always the same one.
		Map<String, Object> given = new LinkedHashMap<>();
		given.put("blocks", this.blocks);
		given.put("every", this.every);
		given.put("config", this.config);
		given.put("include", this.include);
		given.put("depth", this.depth);
		given.put("method", this.method);
		given.put("bits", this.bits);
		given.put("granularity", this.granularity);
		given.put("groupSize", this.groupSize);
		given.put("symmetric", this.symmetric);
		given.put("scheme", this.scheme);
		Set<String> allowed = FIELDS.get(this.kind);
		given.forEach((field, value) -> {
			if (value != null && !allowed.contains(field)) {
				throw invalid(field, "is not used by kind " + this.kind);
			}
		});
		return switch (this.kind) {
			case "drop_blocks" -> new Transform.DropBlocks(this.blocks);
			case "inherit" -> new Transform.Inherit(this.blocks, this.every,
					(this.config != null)
							? new Transform.Widths(this.config.hiddenSize(), this.config.intermediateSize(),
									this.config.numAttentionHeads(), this.config.numKeyValueHeads())
							: null);
			case "inflate" -> new Transform.Inflate(this.include, this.depth, this.method);
			default -> new Transform.Quantize(this.bits, this.granularity, this.groupSize, this.symmetric, this.scheme);
		};
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_TRANSFORM, field + ": " + reason, Map.of("field", field));
	}

}
