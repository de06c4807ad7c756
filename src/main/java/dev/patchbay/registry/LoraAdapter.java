package dev.patchbay.registry;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import com.google.re2j.Pattern;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import dev.patchbay.registry.AdapterConfigException.AdapterProblem;
import dev.patchbay.shared.TensorSpec;

/**
 * A PEFT LoRA-family adapter ({@code adapter_config.json} plus
 * {@code adapter_model.safetensors}) checked for consistency: every module has A and B of
 * the configured rank, DoRA modules have magnitudes, and every target matches some
 * module. Besides PEFT's layouts it reads two conv layouts no library defines a format
 * for: CP-LoRA ({@code peft_type: CP_LORA}, four factors per module) and loralib's
 * ConvLoRA ({@code conv_layout: loralib}).
 *
 * @param config the parsed config
 * @param modules the adapted modules, in tensor order
 * @param modulesToSave full replacement tensors
 */
public record LoraAdapter(AdapterConfig config, List<LoraModule> modules, List<SavedTensor> modulesToSave) {

	private static final String PREFIX = "base_model.model.";

	private static final JsonMapper JSON = JsonMapper.builder().build();

	/**
	 * Parses and cross-checks an adapter.
	 * @param configJson the bytes of adapter_config.json
	 * @param tensors the tensors of adapter_model.safetensors
	 * @throws AdapterConfigException listing every problem found
	 */
	public static LoraAdapter parse(byte[] configJson, List<TensorSpec> tensors) {
		return parse(configJson, tensors, Integer.MAX_VALUE);
	}

	/**
	 * Parses and cross-checks an uploaded adapter.
	 * @param maxRank the largest rank accepted
	 * @throws AdapterConfigException listing every problem found
	 */
	public static LoraAdapter parse(byte[] configJson, List<TensorSpec> tensors, int maxRank) {
		List<AdapterProblem> problems = new ArrayList<>();
		AdapterConfig config = AdapterConfig.parse(configJson, problems, maxRank);
		if (config == null) {
			throw AdapterConfigException.of(problems);
		}
		Map<String, Map<String, TensorSpec>> byModule = new TreeMap<>();
		List<SavedTensor> modulesToSave = new ArrayList<>();
		for (TensorSpec tensor : tensors) {
			String key = tensor.name().startsWith(PREFIX) ? tensor.name().substring(PREFIX.length()) : tensor.name();
			Optional<String[]> split = splitLoraKey(key);
			if (split.isPresent()) {
				byModule.computeIfAbsent(split.get()[0], (module) -> new LinkedHashMap<>()).put(split.get()[1], tensor);
			}
			else {
				String target = key.replace(".modules_to_save.default.", ".").replace(".modules_to_save.", ".");
				modulesToSave.add(new SavedTensor(target, tensor));
			}
		}
		List<LoraModule> modules = new ArrayList<>();
		byModule.forEach((module, parts) -> {
			LoraModule parsed = checkModule(config, module, parts, problems);
			if (parsed != null) {
				modules.add(parsed);
			}
		});
		for (String target : config.targetModules()) {
			if (byModule.keySet().stream().noneMatch((module) -> config.matchesTarget(module, target))) {
				problems.add(AdapterProblem.field("target_modules", "target '" + target + "' has no lora tensors"));
			}
		}
		if (config.targetRegex() != null && byModule.isEmpty()) {
			problems.add(AdapterProblem.field("target_modules", "regex matches no module with lora tensors"));
		}
		if (!problems.isEmpty()) {
			throw AdapterConfigException.of(problems);
		}
		return new LoraAdapter(config, List.copyOf(modules), List.copyOf(modulesToSave));
	}

	/** Tensor-name suffixes of a module's parts, and the part each one is. */
	private static final Map<String, String> PARTS = partsBySuffix();

	private static Map<String, String> partsBySuffix() {
		Map<String, String> parts = new LinkedHashMap<>();
		parts.put(".lora_A.weight", "A");
		parts.put(".lora_B.weight", "B");
		parts.put(".lora_B.bias", "bias");
		parts.put(".lora_embedding_A", "eA");
		parts.put(".lora_embedding_B", "eB");
		parts.put(".lora_magnitude_vector.weight", "m");
		parts.put(".lora_magnitude_vector", "m");
		for (String factor : CpFactors.NAMES) {
			parts.put(".lora_cp_" + factor + ".weight", factor);
		}
		return parts;
	}

	private static Optional<String[]> splitLoraKey(String key) {
		for (Map.Entry<String, String> suffix : PARTS.entrySet()) {
			if (key.endsWith(suffix.getKey())) {
				return Optional
					.of(new String[] { key.substring(0, key.length() - suffix.getKey().length()), suffix.getValue() });
			}
		}
		return Optional.empty();
	}

	/**
	 * A CP-LoRA module: four [n, r] factors and an optional magnitude; lora_A and lora_B
	 * do not belong in it.
	 */
	private static LoraModule checkCpModule(AdapterConfig config, String module, Map<String, TensorSpec> parts,
			List<AdapterProblem> problems) {
		int before = problems.size();
		if (!config.isTarget(module)) {
			problems.add(AdapterProblem.tensor(module, "module '" + module + "' is not in target_modules"));
		}
		int rank = config.rankFor(module);
		List<TensorSpec> factors = new ArrayList<>();
		for (String factor : CpFactors.NAMES) {
			TensorSpec tensor = parts.get(factor);
			if (tensor == null) {
				problems.add(AdapterProblem.tensor(module, "has lora_cp_" + factor + " missing (CP_LORA has "
						+ "lora_cp_out, lora_cp_in, lora_cp_kh and lora_cp_kw)"));
			}
			else if (tensor.shape().size() != 2 || tensor.shape().get(1) != rank) {
				problems.add(AdapterProblem.tensor(tensor.name(),
						"has shape " + tensor.shape() + "; expected [n, " + rank + "]"));
			}
			factors.add(tensor);
		}
		for (String part : List.of("A", "B")) {
			if (parts.containsKey(part)) {
				problems.add(AdapterProblem.tensor(parts.get(part).name(), "is a lora_" + part
						+ " tensor, which a CP_LORA adapter does not have; its factors are lora_cp_*"));
			}
		}
		TensorSpec magnitude = parts.get("m");
		checkMagnitude(config, module, magnitude, (factors.get(0) != null) ? factors.get(0).shape().get(0) : -1,
				problems);
		if (problems.size() > before) {
			return null;
		}
		CpFactors cp = new CpFactors(factors.get(0), factors.get(1), factors.get(2), factors.get(3));
		double alpha = config.alphaFor(module);
		return new LoraModule(module, rank, alpha, config.scale(alpha, rank), null, null, magnitude, Layout.CP, cp,
				null);
	}

	private static void checkMagnitude(AdapterConfig config, String module, TensorSpec magnitude, long outChannels,
			List<AdapterProblem> problems) {
		if (config.useDora() != (magnitude != null)) {
			problems
				.add(AdapterProblem.tensor(module, config.useDora() ? "has no lora_magnitude_vector but use_dora is set"
						: "has a lora_magnitude_vector but use_dora is not set"));
		}
		else if (magnitude != null && outChannels >= 0 && magnitude.elementCount() != outChannels) {
			problems.add(AdapterProblem.tensor(magnitude.name(),
					"has " + magnitude.elementCount() + " elements; expected one per output channel, " + outChannels));
		}
	}

	/**
	 * A loralib ConvLoRA module: A [r·k, in·k] and B [out·k, r·k], whose product viewed
	 * as [out, in, k, k] is the delta.
	 */
	private static LoraModule checkLoralibModule(AdapterConfig config, String module, TensorSpec a, TensorSpec b,
			TensorSpec magnitude, List<AdapterProblem> problems) {
		int before = problems.size();
		if (!config.isTarget(module)) {
			problems.add(AdapterProblem.tensor(a.name(), "module '" + module + "' is not in target_modules"));
		}
		int rank = config.rankFor(module);
		if (a.shape().size() != 2 || b.shape().size() != 2) {
			problems.add(AdapterProblem.tensor(module, "has lora_A " + a.shape() + " and lora_B " + b.shape()
					+ "; conv_layout loralib expects " + "[r·k, in·k] and [out·k, r·k]"));
			return null;
		}
		long rows = a.shape().get(0);
		long kernel = rows / rank;
		if (rows % rank != 0 || kernel == 0 || a.shape().get(1) % kernel != 0) {
			problems.add(AdapterProblem.tensor(a.name(),
					"has shape " + a.shape() + "; conv_layout loralib expects [r·k, in·k] with r = " + rank));
		}
		else if (b.shape().get(1) != rows || b.shape().get(0) % kernel != 0) {
			problems.add(AdapterProblem.tensor(b.name(),
					"has shape " + b.shape() + "; expected [out·" + kernel + ", " + rows + "]"));
		}
		checkMagnitude(config, module, magnitude, -1, problems);
		if (problems.size() > before) {
			return null;
		}
		double alpha = config.alphaFor(module);
		// k = 1 is a linear layer (loralib's Linear has the same factors).
		Layout layout = (kernel == 1) ? Layout.LINEAR : Layout.LORALIB_CONV;
		return new LoraModule(module, rank, alpha, config.scale(alpha, rank), a, b, null, layout, null, null);
	}

	private static LoraModule checkModule(AdapterConfig config, String module, Map<String, TensorSpec> parts,
			List<AdapterProblem> problems) {
		if (config.cp()) {
			return checkCpModule(config, module, parts, problems);
		}
		boolean embedding = parts.containsKey("eA") || parts.containsKey("eB");
		TensorSpec a = parts.get(embedding ? "eA" : "A");
		TensorSpec b = parts.get(embedding ? "eB" : "B");
		TensorSpec magnitude = parts.get("m");
		TensorSpec bias = parts.get("bias");
		int before = problems.size();
		if (bias != null && !config.loraBias()) {
			problems.add(AdapterProblem.tensor(bias.name(), "is a lora_B bias but lora_bias is not set"));
		}
		else if (bias != null && (bias.shape().size() != 1 || b != null && bias.elementCount() != b.shape().get(0))) {
			problems.add(AdapterProblem.tensor(bias.name(), "has shape " + bias.shape() + "; expected [out]"));
		}
		if (embedding && (parts.containsKey("A") || parts.containsKey("B") || magnitude != null)) {
			problems.add(AdapterProblem.tensor(module, "mixes lora_embedding_A/B with other LoRA factors"));
		}
		for (String factor : CpFactors.NAMES) {
			if (parts.containsKey(factor)) {
				problems.add(AdapterProblem.tensor(parts.get(factor).name(),
						"is a CP factor, but peft_type is not CP_LORA"));
			}
		}
		if (a == null || b == null) {
			problems.add(AdapterProblem.tensor(module,
					"has lora_" + (embedding ? "embedding_" : "") + ((a == null) ? "A" : "B") + " missing"));
			return null;
		}
		if (config.loralibConv() && a.shape().size() == 2 && !embedding) {
			return checkLoralibModule(config, module, a, b, magnitude, problems);
		}
		if (!config.isTarget(module)) {
			problems.add(AdapterProblem.tensor(a.name(), "module '" + module + "' is not in target_modules"));
		}
		int rank = config.rankFor(module);
		boolean conv = a.shape().size() == 4;
		if (a.shape().size() != 2 && !conv) {
			problems.add(AdapterProblem.tensor(a.name(),
					"has rank-" + a.shape().size() + " shape " + a.shape() + "; expected [r, in] or [r, in, kh, kw]"));
		}
		else if (a.shape().get(0) != rank) {
			problems.add(AdapterProblem.tensor(a.name(), "has rank " + a.shape().get(0) + " but the config says r = "
					+ rank + ((config.rankPattern().isEmpty()) ? "" : " (after rank_pattern)")));
		}
		boolean bShapeOk = conv ? b.shape().size() == 4 && b.shape().get(2) == 1 && b.shape().get(3) == 1
				: b.shape().size() == 2;
		if (!bShapeOk || b.shape().get(1) != rank) {
			problems.add(AdapterProblem.tensor(b.name(),
					"has shape " + b.shape() + "; expected [out, " + rank + ((conv) ? ", 1, 1]" : "]")));
		}
		checkMagnitude(config, module, magnitude, bShapeOk ? b.shape().get(0) : -1, problems);
		if (problems.size() > before) {
			return null;
		}
		double alpha = config.alphaFor(module);
		return new LoraModule(module, rank, alpha, config.scale(alpha, rank), a, b, magnitude,
				embedding ? Layout.EMBEDDING : conv ? Layout.CONV : Layout.LINEAR, null, bias);
	}

	/**
	 * A {@code modules_to_save} tensor: stored whole, it replaces a base tensor.
	 *
	 * @param target the base tensor it replaces
	 * @param tensor the adapter tensor holding the values
	 */
	public record SavedTensor(String target, TensorSpec tensor) {
	}

	/**
	 * One adapted module.
	 *
	 * @param module the module path in the base model, e.g.
	 * {@code model.layers.0.self_attn.q_proj}
	 * @param rank r for this module (after rank_pattern)
	 * @param alpha lora_alpha for this module (after alpha_pattern)
	 * @param scale alpha/r, or alpha/sqrt(r) for rsLoRA
	 * @param a lora_A: [r, in] or [r, in, kh, kw], or loralib's [r·k, in·k]; null for
	 * CP-LoRA
	 * @param b lora_B: [out, r] or [out, r, 1, 1], or loralib's [out·k, r·k]; null for
	 * CP-LoRA
	 * @param magnitude DoRA magnitude vector, null for plain LoRA
	 * @param layout how the factors make the delta
	 * @param cp CP-LoRA's factors, null for the other layouts
	 * @param bias lora_B's bias ({@code lora_bias}), whose scaled values are a delta on
	 * the module's bias; or null
	 */
	public record LoraModule(String module, int rank, double alpha, double scale, TensorSpec a, TensorSpec b,
			TensorSpec magnitude, Layout layout, CpFactors cp, TensorSpec bias) {

		/** The base tensor this module patches. */
		public String targetTensor() {
			return this.module + ".weight";
		}

		public boolean isConv() {
			return this.layout != Layout.LINEAR;
		}

		/** loralib's kernel size k, from A's r·k rows; 1 for the other layouts. */
		public int loralibKernel() {
			return (this.layout == Layout.LORALIB_CONV) ? Math.toIntExact(this.a.shape().get(0) / this.rank) : 1;
		}

		/**
		 * The base weight shape the module implies: [out, in] (or [in, out] with
		 * fan_in_fan_out) for linear layers, [out, in, kh, kw] for convolutions.
		 */
		public List<Long> baseShape(boolean fanInFanOut) {
			return switch (this.layout) {
				case CP -> List.of(this.cp.out().shape().get(0), this.cp.in().shape().get(0),
						this.cp.kh().shape().get(0), this.cp.kw().shape().get(0));
				case LORALIB_CONV -> {
					long k = loralibKernel();
					yield List.of(this.b.shape().get(0) / k, this.a.shape().get(1) / k, k, k);
				}
				case CONV ->
					List.of(this.b.shape().get(0), this.a.shape().get(1), this.a.shape().get(2), this.a.shape().get(3));
				case EMBEDDING -> List.of(this.a.shape().get(1), this.b.shape().get(0));
				case LINEAR -> fanInFanOut ? List.of(this.a.shape().get(1), this.b.shape().get(0))
						: List.of(this.b.shape().get(0), this.a.shape().get(1));
			};
		}

	}

	/** How a module's factors make its delta. */
	public enum Layout {

		/** PEFT's linear layer: {@code ΔW = s·B·A}. */
		LINEAR,

		/** PEFT's conv layer: A [r, in, kh, kw], B [out, r, 1, 1]. */
		CONV,

		/**
		 * PEFT's embedding: lora_embedding_A [r, vocab], lora_embedding_B [dim, r],
		 * {@code ΔW = s·(B·A)ᵀ}.
		 */
		EMBEDDING,

		/** loralib's ConvLoRA: {@code ΔW = s·(B·A).view(out, in, k, k)}. */
		LORALIB_CONV,

		/**
		 * CP-LoRA: {@code ΔW[o, i, h, w] = s·Σ_r out[o, r]·in[i, r]·kh[h, r]·kw[w, r]}.
		 */
		CP

	}

	/**
	 * The factors of a CP-LoRA module, each [n, r]: {@code lora_cp_out.weight},
	 * {@code lora_cp_in.weight}, {@code lora_cp_kh.weight} and {@code lora_cp_kw.weight}.
	 *
	 * @param out one row per output channel
	 * @param in one row per input channel
	 * @param kh one row per kernel row
	 * @param kw one row per kernel column
	 */
	public record CpFactors(TensorSpec out, TensorSpec in, TensorSpec kh, TensorSpec kw) {

		static final List<String> NAMES = List.of("out", "in", "kh", "kw");

	}

	/**
	 * The fields of adapter_config.json that change the merged weights.
	 *
	 * @param r default rank
	 * @param loraAlpha default alpha
	 * @param targetModules target module names when given as a list
	 * @param targetRegex target module regex when given as a string, else null
	 * @param useRslora scale by alpha/sqrt(r)
	 * @param useDora weight-decomposed LoRA
	 * @param fanInFanOut base weights stored [in, out] (GPT-2 Conv1D)
	 * @param rankPattern per-module ranks, keyed by module-name suffix or regex
	 * @param alphaPattern per-module alphas, keyed likewise
	 * @param modulesToSave modules saved whole
	 * @param cp {@code peft_type: CP_LORA}: every module is CP-decomposed
	 * @param loralibConv {@code conv_layout: loralib}: 2-D factors of a conv weight are
	 * loralib's
	 * @param loraBias lora_B has a bias, a delta on the module's bias
	 */
	public record AdapterConfig(int r, double loraAlpha, List<String> targetModules, String targetRegex,
			boolean useRslora, boolean useDora, boolean fanInFanOut, Map<String, Integer> rankPattern,
			Map<String, Double> alphaPattern, List<String> modulesToSave, boolean cp, boolean loralibConv,
			boolean loraBias) {

		static AdapterConfig parse(byte[] json, List<AdapterProblem> problems, int maxRank) {
			JsonNode root;
			try {
				root = JSON.readTree(json);
			}
			catch (JacksonException ex) {
				problems.add(AdapterProblem.field("(file)", "is not valid JSON: " + ex.getOriginalMessage()));
				return null;
			}
			if (root == null || !root.isObject()) {
				problems.add(AdapterProblem.field("(file)", "is not a JSON object"));
				return null;
			}
			JsonNode peftTypeNode = root.path("peft_type");
			String peftType = peftTypeNode.isString() ? peftTypeNode.asString() : "LORA";
			if (!peftTypeNode.isMissingNode() && !peftTypeNode.isNull() && !peftTypeNode.isString()) {
				problems.add(AdapterProblem.field("peft_type", "must be a string"));
			}
			else if (!"LORA".equals(peftType) && !"CP_LORA".equals(peftType)) {
				problems.add(AdapterProblem.field("peft_type",
						"'" + peftType + "' is not supported; only LORA and CP_LORA"));
			}
			JsonNode layoutNode = root.path("conv_layout");
			boolean loralib = false;
			if (layoutNode.isString() && layoutNode.asString().equals("loralib")) {
				loralib = true;
				if ("CP_LORA".equals(peftType)) {
					problems.add(AdapterProblem.field("conv_layout", "does not apply to a CP_LORA adapter"));
				}
				if (root.path("use_dora").asBoolean(false)) {
					problems.add(AdapterProblem.field("conv_layout", "loralib has no DoRA variant; unset use_dora"));
				}
			}
			else if (!layoutNode.isMissingNode() && !layoutNode.isNull()
					&& !(layoutNode.isString() && layoutNode.asString().equals("peft"))) {
				problems.add(AdapterProblem.field("conv_layout", "must be 'peft' (the default) or 'loralib'"));
			}
			Integer r = rank(root.get("r"), "r", maxRank, problems);
			Double alpha = finite(root.get("lora_alpha"), "lora_alpha", problems);
			List<String> targets = new ArrayList<>();
			String regex = null;
			JsonNode targetNode = root.path("target_modules");
			if (targetNode.isString()) {
				regex = targetNode.asString();
				compile(regex, "target_modules", problems);
			}
			else if (targetNode.isArray() && !targetNode.isEmpty()) {
				strings(targetNode, "target_modules", targets, problems);
			}
			else {
				problems.add(AdapterProblem.field("target_modules", "must be a non-empty list or a regex string"));
			}
			Map<String, Integer> rankPattern = new LinkedHashMap<>();
			Map<String, Double> alphaPattern = new LinkedHashMap<>();
			for (String name : List.of("rank_pattern", "alpha_pattern")) {
				JsonNode pattern = root.path(name);
				if (pattern.isMissingNode() || pattern.isNull()) {
					continue;
				}
				if (!pattern.isObject()) {
					problems.add(AdapterProblem.field(name, "must be an object of module patterns"));
					continue;
				}
				for (Map.Entry<String, JsonNode> entry : pattern.properties()) {
					String field = name + "." + entry.getKey();
					// PEFT anchors a key as (.*\.)?key$; a key that breaks that is
					// invalid.
					compile(keyPattern(entry.getKey()), field, problems);
					if (name.equals("rank_pattern")) {
						rankPattern.put(entry.getKey(), rank(entry.getValue(), field, maxRank, problems));
					}
					else {
						alphaPattern.put(entry.getKey(), finite(entry.getValue(), field, problems));
					}
				}
			}
			List<String> modulesToSave = new ArrayList<>();
			JsonNode saveNode = root.path("modules_to_save");
			if (saveNode.isArray()) {
				strings(saveNode, "modules_to_save", modulesToSave, problems);
			}
			else if (!saveNode.isMissingNode() && !saveNode.isNull()) {
				problems.add(AdapterProblem.field("modules_to_save", "must be a list of module names"));
			}
			for (String flag : List.of("use_rslora", "use_dora", "fan_in_fan_out", "lora_bias")) {
				JsonNode node = root.path(flag);
				if (!node.isMissingNode() && !node.isNull() && !node.isBoolean()) {
					problems.add(AdapterProblem.field(flag, "must be true or false"));
				}
			}
			if (!problems.isEmpty()) {
				return null;
			}
			return new AdapterConfig(r, alpha, List.copyOf(targets), regex, root.path("use_rslora").asBoolean(false),
					root.path("use_dora").asBoolean(false), root.path("fan_in_fan_out").asBoolean(false), rankPattern,
					alphaPattern, modulesToSave, "CP_LORA".equals(peftType), loralib,
					root.path("lora_bias").asBoolean(false));
		}

		/** alpha/r, or alpha/sqrt(r) for rsLoRA. */
		double scale(double alpha, int rank) {
			return this.useRslora ? alpha / Math.sqrt(rank) : alpha / rank;
		}

		private static Integer rank(JsonNode node, String field, int maxRank, List<AdapterProblem> problems) {
			if (node == null || !node.isIntegralNumber() || !node.canConvertToInt() || node.asInt() <= 0
					|| node.asInt() > maxRank) {
				problems.add(AdapterProblem.field(field,
						"must be a positive integer of at most " + maxRank + " (patchbay.registry.max-adapter-rank)"));
				return null;
			}
			return node.asInt();
		}

		private static Double finite(JsonNode node, String field, List<AdapterProblem> problems) {
			if (node == null || !node.isNumber() || !Double.isFinite(node.asDouble())) {
				problems.add(AdapterProblem.field(field, "must be a finite number"));
				return null;
			}
			return node.asDouble();
		}

		private static void strings(JsonNode array, String field, List<String> out, List<AdapterProblem> problems) {
			for (int i = 0; i < array.size(); i++) {
				if (!array.get(i).isString()) {
					problems.add(AdapterProblem.field(field + "[" + i + "]", "must be a module name (a string)"));
				}
				else {
					out.add(array.get(i).asString());
				}
			}
		}

		private static void compile(String regex, String field, List<AdapterProblem> problems) {
			try {
				ClientRegex.compile(regex);
			}
			catch (IllegalArgumentException ex) {
				problems.add(AdapterProblem.field(field, ex.getMessage()));
			}
		}

		private static String keyPattern(String key) {
			return "(.*\\.)?" + key + "$";
		}

		boolean isTarget(String module) {
			if (this.targetRegex != null) {
				return Pattern.matches(this.targetRegex, module);
			}
			return this.targetModules.stream().anyMatch((target) -> matchesTarget(module, target));
		}

		boolean matchesTarget(String module, String target) {
			return module.equals(target) || module.endsWith("." + target);
		}

		int rankFor(String module) {
			return patternValue(this.rankPattern, module).orElse(this.r);
		}

		double alphaFor(String module) {
			return patternValue(this.alphaPattern, module).orElse(this.loraAlpha);
		}

		/**
		 * PEFT matches pattern keys against the module name as {@code (.*\.)?key$}; the
		 * first key that matches wins.
		 */
		private static <T> Optional<T> patternValue(Map<String, T> pattern, String module) {
			return pattern.entrySet()
				.stream()
				.filter((entry) -> Pattern.matches(keyPattern(entry.getKey()), module))
				.map(Map.Entry::getValue)
				.findFirst();
		}

	}

}
