package dev.patchbay.transform;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

import tools.jackson.databind.node.ObjectNode;

import dev.patchbay.engine.TensorData;
import dev.patchbay.engine.WeightQuantizer;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.transform.Plan.Output;

/**
 * Weight-only quantized export of a model's Linear weights (every 2-D {@code .weight}
 * except embeddings, {@code lm_head} and norms) in the compressed-tensors
 * {@code pack-quantized} layout vLLM loads: for a module {@code M},
 * {@code M.weight_packed} (int32, [out, ceil(in / (32 / bits))]), {@code M.weight_scale}
 * (the weight's dtype, [out, groups]), {@code M.weight_zero_point} for asymmetric codes
 * (int32 packed along the rows, [ceil(out / (32 / bits)), groups]) and
 * {@code M.weight_shape} (int64 [2]); {@code config.json} gains
 * {@code quantization_config}. The {@code pow2} scheme (DenseShift) uses the same tensor
 * names with our own codes and {@code quant_method: patchbay-pow2}. Every other tensor is
 * copied byte for byte.
 */
final class Quantization {

	/** Not Linear layers, or Linear layers vLLM keeps in full precision. */
	// These go to quantization_config's ignore list, so a loader knows the module is a
	// Linear left in full precision and not a missing quantized one.
	private static final Pattern KEPT = Pattern.compile("(?:^|\\.)(?:lm_head|embed_out)\\.weight$");

	/**
	 * Names of 2-D weights that are not Linear layers (token and position embeddings,
	 * norm scales of GPT-2-style {@code ln_} modules); a loader expects them unquantized.
	 */
	private static final Pattern NOT_LINEAR = Pattern
		.compile("(?:embed|(?:^|\\.)wte\\.|(?:^|\\.)wpe\\.|norm|(?:^|\\.)ln_)", Pattern.CASE_INSENSITIVE);

	private Quantization() {
	}

	/**
	 * Checks the request and the model, then returns producers that quantize one weight
	 * at a time as the writer reaches it.
	 * @param request the {@code quantize} fields: {@code bits} (8 or 4),
	 * {@code granularity} (one scale per output row, or per {@code groupSize} input
	 * columns of a row), {@code symmetric} (default true: no zero point) and
	 * {@code scheme} ({@code int}, or {@code pow2} for DenseShift's sign-and-exponent
	 * codes)
	 * @param config the source's config.json, or null when it has none
	 */
	static Plan plan(Transform.Quantize request, Sources sources, ObjectNode config) {
		Integer bits = request.bits();
		if (bits == null || (bits != 8 && bits != 4)) {
			throw Transforms.invalid("bits", "must be 8 or 4");
		}
		String granularity = request.granularity();
		if (granularity == null || !(granularity.equals("channel") || granularity.equals("group"))) {
			throw Transforms.invalid("granularity", "must be channel or group");
		}
		// 0 stands for channel granularity, as WeightQuantizer takes it: the group is the
		// whole row.
		int groupSize = 0;
		if (granularity.equals("group")) {
			if (request.groupSize() == null || !List.of(32, 64, 128).contains(request.groupSize())) {
				throw Transforms.invalid("groupSize", "must be 32, 64 or 128 for group granularity");
			}
			groupSize = request.groupSize();
		}
		else if (request.groupSize() != null) {
			throw Transforms.invalid("groupSize", "is only for group granularity");
		}
		boolean symmetric = !Boolean.FALSE.equals(request.symmetric());
		String schemeName = (request.scheme() != null) ? request.scheme() : "int";
		if (!schemeName.equals("int") && !schemeName.equals("pow2")) {
			throw Transforms.invalid("scheme", "must be int or pow2");
		}
		WeightQuantizer.Scheme scheme = schemeName.equals("pow2") ? WeightQuantizer.Scheme.POW2
				: WeightQuantizer.Scheme.INT;
		if (scheme == WeightQuantizer.Scheme.POW2 && !symmetric) {
			throw Transforms.invalid("symmetric", "pow2 codes are sign and exponent: symmetric only");
		}
		// Re-quantizing would read packed int32 codes as if they were weights.
		if (config != null && config.has("quantization_config")) {
			throw Transforms.impossible("kind",
					List.of("the model is already quantized (config.json has quantization_config)"), List.of());
		}
		List<String> problems = new ArrayList<>();
		List<String> faulty = new ArrayList<>();
		List<String> ignored = new ArrayList<>();
		List<Output> outputs = new ArrayList<>();
		List<Map<String, Object>> tensorReports = new ArrayList<>();
		// Original and quantized bytes over every quantized weight, for the report.
		long[] totals = new long[2];
		int finalGroupSize = groupSize;
		for (StoredTensor tensor : sources.tensors()) {
			Sources.size(tensor);
			TensorSpec spec = tensor.spec();
			String name = tensor.name();
			if (KEPT.matcher(name).find()) {
				ignored.add(name.substring(0, name.length() - ".weight".length()));
			}
			if (!isLinearWeight(spec)) {
				outputs.add(new Output(spec, () -> ByteBuffer.wrap(sources.bytes(tensor))));
				continue;
			}
			int rows = Math.toIntExact(spec.shape().get(0));
			int columns = Math.toIntExact(spec.shape().get(1));
			// compressed-tensors has no partial last group: every group has groupSize
			// columns.
			if (groupSize != 0 && columns % groupSize != 0) {
				problems.add("tensor '" + name + "' has " + columns + " input columns, not a multiple of groupSize "
						+ groupSize);
				faulty.add(name);
				continue;
			}
			WeightQuantizer quantizer = new WeightQuantizer(scheme, bits, groupSize, symmetric, spec.dtype());
			int factor = quantizer.packFactor();
			int groups = quantizer.groups(columns);
			String module = name.substring(0, name.length() - "weight".length());
			// The module's outputs are written consecutively and in this order: the
			// packed codes quantize the weight, the scales and zero points read the same
			// result, and the shape (written last) drops it. So one module's weight and
			// codes are on the heap at a time, and the report's snrDb is only known once
			// the codes are written.
			WeightQuantizer.Quantized[] current = new WeightQuantizer.Quantized[1];
			long quantizedBytes = 0;
			TensorSpec packed = TensorSpec.of(module + "weight_packed", DType.I32, rows,
					(columns + factor - 1) / factor);
			// Scales keep the weight's dtype, as llm-compressor writes them.
			TensorSpec scales = TensorSpec.of(module + "weight_scale", spec.dtype(), rows, groups);
			TensorSpec shape = TensorSpec.of(module + "weight_shape", DType.I64, 2);
			Map<String, Object> report = new LinkedHashMap<>();
			report.put("tensor", name);
			report.put("shape", spec.shape());
			report.put("snrDb", null);
			outputs.add(new Output(packed, () -> {
				// NaN or infinity would poison the row's min/max and so every code of its
				// group.
				float[] values = sources.floats(tensor);
				for (float value : values) {
					if (!Float.isFinite(value)) {
						throw new UnprocessableException(ProblemKind.NON_FINITE_WEIGHT,
								"tensor '" + name + "' holds NaN or infinite values, which cannot be quantized",
								Map.of("tensor", name));
					}
				}
				current[0] = quantizer.quantize(values, rows, columns);
				report.put("snrDb", current[0].snrDb());
				return ints(current[0].packed());
			}));
			outputs.add(new Output(scales,
					() -> TensorData.encode(current[0].scales(), current[0].scales().length, spec.dtype())));
			quantizedBytes += packed.byteSize() + scales.byteSize() + shape.byteSize();
			if (scheme == WeightQuantizer.Scheme.INT && !symmetric) {
				// Zero points are packed along the output rows, unlike the codes (along
				// the columns), which is how compressed-tensors lays them out.
				TensorSpec zeroPoints = TensorSpec.of(module + "weight_zero_point", DType.I32,
						(rows + factor - 1) / factor, groups);
				outputs.add(new Output(zeroPoints, () -> ints(current[0].zeroPoints())));
				quantizedBytes += zeroPoints.byteSize();
			}
			outputs.add(new Output(shape, () -> {
				current[0] = null;
				return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(rows).putLong(columns).flip();
			}));
			report.put("originalBytes", spec.byteSize());
			report.put("quantizedBytes", quantizedBytes);
			report.put("bytesSaved", spec.byteSize() - quantizedBytes);
			tensorReports.add(report);
			totals[0] += spec.byteSize();
			totals[1] += quantizedBytes;
		}
		if (!problems.isEmpty()) {
			throw Transforms.impossible("groupSize", problems, faulty);
		}
		if (tensorReports.isEmpty()) {
			throw Transforms.impossible("kind", List.of("the model has no Linear weight to quantize"), List.of());
		}
		Map<String, Object> report = new LinkedHashMap<>();
		report.put("kind", "quantize");
		report.put("scheme", schemeName);
		report.put("bits", bits);
		report.put("granularity", granularity);
		if (groupSize != 0) {
			report.put("groupSize", groupSize);
		}
		report.put("symmetric", symmetric);
		report.put("format", (scheme == WeightQuantizer.Scheme.INT) ? "pack-quantized" : "pow2-packed");
		report.put("originalBytes", totals[0]);
		report.put("quantizedBytes", totals[1]);
		report.put("bytesSaved", totals[0] - totals[1]);
		report.put("tensors", tensorReports);
		// quantization_config is what makes a loader (vLLM, transformers with
		// compressed-tensors) read weight_packed instead of looking for weight.
		return new Plan(outputs, (json) -> json.set("quantization_config",
				quantizationConfig(json, scheme, bits, finalGroupSize, symmetric, ignored)), report);
	}

	/**
	 * A Linear layer's weight: floating point, 2-D, not an embedding, an lm_head or a
	 * norm.
	 */
	private static boolean isLinearWeight(TensorSpec spec) {
		String name = spec.name();
		return spec.dtype().isFloatingPoint() && spec.shape().size() == 2 && name.endsWith(".weight")
				&& !KEPT.matcher(name).find() && !NOT_LINEAR.matcher(name).find() && !spec.isVocabularyTable();
	}

	/**
	 * compressed-tensors' {@code quantization_config}, as llm-compressor writes it for a
	 * weight-only scheme; for pow2 our own, in the same shape.
	 */
	private static ObjectNode quantizationConfig(ObjectNode root, WeightQuantizer.Scheme scheme, int bits,
			int groupSize, boolean symmetric, List<String> ignored) {
		// The block mirrors llm-compressor's output key for key, nulls included, so it
		// reads exactly like a config the loaders already handle.
		ObjectNode config = root.objectNode();
		ObjectNode group = config.putObject("config_groups").putObject("group_0");
		group.putArray("targets").add("Linear");
		ObjectNode weights = group.putObject("weights");
		weights.put("num_bits", bits);
		weights.put("type", (scheme == WeightQuantizer.Scheme.INT) ? "int" : "pow2");
		weights.put("symmetric", symmetric);
		weights.put("strategy", (groupSize == 0) ? "channel" : "group");
		if (groupSize == 0) {
			weights.putNull("group_size");
		}
		else {
			weights.put("group_size", groupSize);
		}
		weights.put("dynamic", false);
		weights.putNull("actorder");
		weights.put("observer", "minmax");
		weights.putObject("observer_kwargs");
		weights.putNull("block_structure");
		group.putNull("input_activations");
		group.putNull("output_activations");
		if (scheme == WeightQuantizer.Scheme.INT) {
			config.put("quant_method", "compressed-tensors");
			config.put("format", "pack-quantized");
		}
		else {
			// A quant_method no loader knows, so that no one runs pow2 codes through an
			// int kernel by mistake; the code formula makes the tensors readable without
			// us.
			config.put("quant_method", "patchbay-pow2");
			config.put("format", "pow2-packed");
			config.put("code",
					"sign * 2^(bits-1) + e; value = weight_scale * (-1)^sign * 2^-e, e in [0, 2^(bits-1) - 1]");
		}
		config.put("quantization_status", "compressed");
		ignored.forEach(config.putArray("ignore")::add);
		config.putNull("kv_cache_scheme");
		return config;
	}

	/** Little-endian int32 bytes, as safetensors stores them. */
	private static ByteBuffer ints(int[] values) {
		ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
		buffer.asIntBuffer().put(values);
		return buffer;
	}

}
