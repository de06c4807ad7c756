package dev.patchbay.composition;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;

import com.google.re2j.Pattern;
import jakarta.validation.Validator;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.core.io.ByteArrayResource;
import org.springframework.stereotype.Service;

import dev.patchbay.engine.LowRank;
import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.PatchKind;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.RegistryProperties;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.registry.Upload;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.BlobPins;

/**
 * Extracts LoRA adapters by truncated SVD, following {@code mergekit-extract-lora}'s
 * module walk: vocabulary tables go whole into {@code modules_to_save} unless embeddings
 * are factored, matrices and (flattened) convolutions are factored, and what cannot be
 * factored (norms) is saved whole or dropped. Bias changes of factored modules become
 * {@code lora_B.bias} with {@code lora_bias: true}, so PEFT loads them (mergekit writes
 * them without the flag and PEFT drops them). Each module's SVD needs its whole delta.
 */
@Service
public class LoraExtractions {

	private static final String PREFIX = "base_model.model.";

	private final Registry registry;

	private final Ingest ingest;

	private final JsonMapper json;

	private final Validator validator;

	// The largest rank the registry accepts for an uploaded adapter, so an extracted one
	// is always registrable and loadable under the same limit.
	private final int maxRank;

	LoraExtractions(Registry registry, Ingest ingest, JsonMapper json, Validator validator,
			RegistryProperties properties) {
		this.maxRank = properties.maxAdapterRank();
		this.registry = registry;
		this.ingest = ingest;
		this.json = json;
		this.validator = validator;
	}

	/**
	 * Extracts and registers the adapter.
	 * @throws InvalidInputException naming the invalid field
	 * @throws UnprocessableException if nothing can be extracted
	 */
	public Extraction extract(Factoring request, DerivedPatch patch) throws IOException {
		try (BlobPins pins = this.registry.pins()) {
			return extract(request, patch, pins);
		}
	}

	/**
	 * What to factor, from a diff patch or from a fine-tuned model and its base, and how.
	 *
	 * @param diffPatchId a diff patch whose deltas to factor
	 * @param baseModelId instead of a diff, the model fine-tuning started from
	 * @param finetunedModelId and the fine-tuned model
	 * @param rank the largest rank kept per module
	 * @param svEpsilon when positive, singular values at or below it are dropped too
	 * @param include regexes; when given, only modules whose name matches one
	 * @param exclude regexes of modules left out entirely
	 * @param embeddings whether embedding tables and lm_head are factored too
	 * @param distributeScale whether √S goes to each factor (default), else S to A
	 * @param skipUndecomposable whether modules that cannot be factored are dropped
	 * rather than saved whole
	 */
	public record Factoring(String diffPatchId, String baseModelId, String finetunedModelId, Integer rank,
			Double svEpsilon, List<String> include, List<String> exclude, Boolean embeddings, Boolean distributeScale,
			Boolean skipUndecomposable) {
	}

	private Extraction extract(Factoring request, DerivedPatch patch, BlobPins pins) throws IOException {
		require("name", patch.name());
		require("rank", request.rank());
		if (request.rank() < 1 || request.rank() > this.maxRank) {
			throw invalid("rank", "must be between 1 and " + this.maxRank + " (patchbay.registry.max-adapter-rank)");
		}
		// mergekit's --sv-epsilon: singular values at or below it are dropped, so a
		// module may get a rank below the requested one (recorded in rank_pattern).
		double epsilon = (request.svEpsilon() != null) ? request.svEpsilon() : 0;
		if (!Double.isFinite(epsilon) || epsilon < 0) {
			throw invalid("svEpsilon", "must be a finite number of at least 0");
		}
		Sources sources = sources(request, pins);
		ArtifactMetadata metadata = checked(new ArtifactMetadata(PatchKind.LORA, patch.name(), patch.version(), null,
				sources.baseModelId(), patch.labels(), null));
		List<Pattern> include = patterns("include", request.include());
		List<Pattern> exclude = patterns("exclude", request.exclude());
		boolean embeddings = Boolean.TRUE.equals(request.embeddings());
		// distribute_scale (mergekit's default) puts √S on both factors; without it A
		// carries S and B is U, as mergekit writes it.
		LowRank.Split split = Boolean.FALSE.equals(request.distributeScale()) ? LowRank.Split.RIGHT
				: LowRank.Split.DISTRIBUTE;
		boolean skip = Boolean.TRUE.equals(request.skipUndecomposable());

		// Modules in the source's tensor order, as mergekit walks named_modules().
		Map<String, Map<String, String>> modules = modules(sources.tensorNames());
		Map<String, float[]> out = new LinkedHashMap<>();
		Map<String, long[]> shapes = new LinkedHashMap<>();
		Set<String> targets = new LinkedHashSet<>();
		Set<String> saved = new TreeSet<>();
		Map<String, Integer> ranks = new LinkedHashMap<>();
		List<ModuleReport> report = new ArrayList<>();
		boolean bias = false;
		for (Map.Entry<String, Map<String, String>> entry : modules.entrySet()) {
			String module = entry.getKey();
			String weight = entry.getValue().get("weight");
			List<Long> shape = sources.shape(weight);
			boolean excluded = exclude.stream().anyMatch((p) -> p.matcher(module).find());
			boolean included = include.isEmpty() || include.stream().anyMatch((p) -> p.matcher(module).find());
			boolean vocabulary = isVocabulary(module);
			// An exclude always wins. Vocabulary tables go to modules_to_save even when
			// the include list does not name them, as mergekit does: a fine-tune's new
			// tokens would otherwise be lost.
			if (excluded || (!included && !(vocabulary && !embeddings))) {
				continue;
			}
			// Matrices and conv kernels (flattened to [out, in·kh·kw]) can be factored;
			// 1-D tensors (norm scales) cannot, and are saved whole unless
			// skipUndecomposable.
			boolean factorable = shape.size() >= 2;
			if ((vocabulary && !embeddings) || (!factorable && !skip)) {
				for (String tensor : entry.getValue().values()) {
					out.put(PREFIX + tensor, sources.finetuned(tensor));
					shapes.put(PREFIX + tensor, longs(sources.shape(tensor)));
				}
				saved.add(leaf(module));
				report.add(new ModuleReport(module, "modules_to_save", null, null));
				continue;
			}
			if (!factorable) {
				report.add(new ModuleReport(module, "skipped", null, null));
				continue;
			}
			// The module's whole delta in float32: the SVD needs it at once, which is the
			// one place an extraction's memory grows with a layer's size.
			float[] delta = sources.delta(weight);
			int rows = Math.toIntExact(shape.get(0));
			int columns = delta.length / rows;
			// lm_head is a Linear; the input embeddings are nn.Embedding.
			boolean embedding = module.endsWith("embed_tokens") || module.endsWith("wte");
			LowRank.Factorization factors = embedding
					// An embedding's LoRA factors ΔWᵀ (dim × vocab), as PEFT's
					// lora_embedding_A/B hold it.
					? LowRank.factor(transpose(delta, rows, columns), columns, rows, request.rank(), epsilon, split)
					: LowRank.factor(delta, rows, columns, request.rank(), epsilon, split);
			// Every singular value at or below svEpsilon: mergekit writes empty tensors
			// here; the module is skipped and reported as such.
			if (factors.rank() == 0) {
				report.add(new ModuleReport(module, "skipped", 0, 0.0));
				continue;
			}
			int r = factors.rank();
			if (embedding) {
				put(out, shapes, PREFIX + module + ".lora_embedding_A", factors.a(), r, rows);
				put(out, shapes, PREFIX + module + ".lora_embedding_B", factors.b(), columns, r);
			}
			else {
				put(out, shapes, PREFIX + module + ".lora_A.weight", factors.a(), r, columns);
				List<Long> bShape = new ArrayList<>(List.of((long) rows, (long) r));
				if (shape.size() > 2) {
					// PEFT's conv layout: A [r, in, kh, kw], B [out, r, 1, 1].
					List<Long> aShape = new ArrayList<>(shape);
					aShape.set(0, (long) r);
					shapes.put(PREFIX + module + ".lora_A.weight", longs(aShape));
					for (int i = 2; i < shape.size(); i++) {
						bShape.add(1L);
					}
				}
				out.put(PREFIX + module + ".lora_B.weight", factors.b());
				shapes.put(PREFIX + module + ".lora_B.weight", longs(bShape));
				String biasName = entry.getValue().get("bias");
				if (biasName != null) {
					float[] biasDelta = sources.delta(biasName);
					// A bias fine-tuning left alone adds nothing; the adapter then needs
					// no lora_bias at all.
					if (anyNonZero(biasDelta)) {
						out.put(PREFIX + module + ".lora_B.bias", biasDelta);
						shapes.put(PREFIX + module + ".lora_B.bias", new long[] { biasDelta.length });
						bias = true;
					}
				}
			}
			targets.add(leaf(module));
			ranks.put(module, r);
			report.add(new ModuleReport(module, "lora", r, factors.energyKept()));
		}
		if (ranks.isEmpty()) {
			throw new UnprocessableException(ProblemKind.EMPTY_EXTRACTION,
					"no module can be factored (after include/exclude, and svEpsilon)", Map.of("field", "rank"));
		}
		// r and lora_alpha are the largest rank actually extracted, as mergekit writes
		// them; every other module's rank goes into rank_pattern.
		int maxRank = ranks.values().stream().mapToInt(Integer::intValue).max().orElseThrow();
		ObjectNode config = this.json.createObjectNode();
		if (sources.base() != null) {
			// The registry name, not a hub id: the adapter is loaded against the
			// registered model.
			config.put("base_model_name_or_path", sources.base().details().name());
		}
		config.put("peft_type", "LORA");
		config.put("use_rslora", false);
		config.putPOJO("target_modules", List.copyOf(targets));
		config.putPOJO("modules_to_save", List.copyOf(saved));
		config.put("task_type", "CAUSAL_LM");
		config.put("r", maxRank);
		config.put("lora_alpha", maxRank);
		Map<String, Integer> pattern = new TreeMap<>();
		ranks.forEach((module, r) -> {
			if (r != maxRank) {
				pattern.put(module, r);
			}
		});
		// Alpha equals rank everywhere, so every module's scaling is exactly 1.
		config.putPOJO("rank_pattern", pattern);
		config.putPOJO("alpha_pattern", pattern);
		config.put("lora_dropout", 0.0);
		config.put("fan_in_fan_out", false);
		config.put("inference_mode", true);
		if (bias) {
			// Without it PEFT reports the lora_B.bias keys as unexpected and drops them,
			// which is what happens to mergekit's extracted bias deltas.
			config.put("lora_bias", true);
		}
		byte[] model = LoraCombinations.safetensors(out, shapes);
		ArtifactDetails details = this.ingest.registerPatch(metadata, List.of(),
				new Upload("adapter_config", "adapter_config.json",
						new ByteArrayResource(this.json.writeValueAsBytes(config))),
				new Upload("adapter_model", "adapter_model.safetensors", new ByteArrayResource(model)));
		return new Extraction(details, report);
	}

	/** Modules by name, each with its tensors by leaf ("weight", "bias"). */
	private static Map<String, Map<String, String>> modules(List<String> names) {
		Map<String, Map<String, String>> modules = new LinkedHashMap<>();
		for (String name : names) {
			for (String leaf : List.of("weight", "bias")) {
				if (name.endsWith("." + leaf)) {
					modules
						.computeIfAbsent(name.substring(0, name.length() - leaf.length() - 1),
								(module) -> new LinkedHashMap<>())
						.put(leaf, name);
				}
			}
		}
		// A lone bias (or buffer) without a weight is not a module that can be factored
		// or saved.
		modules.values().removeIf((tensors) -> !tensors.containsKey("weight"));
		return modules;
	}

	/**
	 * Token tables by llama's and GPT-2's names; an extraction keeps them whole by
	 * default.
	 */
	private static boolean isVocabulary(String module) {
		return module.endsWith("embed_tokens") || module.endsWith("lm_head") || module.endsWith("wte");
	}

	private static String leaf(String module) {
		return module.substring(module.lastIndexOf('.') + 1);
	}

	private static float[] transpose(float[] values, int rows, int columns) {
		float[] transposed = new float[values.length];
		for (int r = 0; r < rows; r++) {
			for (int c = 0; c < columns; c++) {
				transposed[c * rows + r] = values[r * columns + c];
			}
		}
		return transposed;
	}

	private static boolean anyNonZero(float[] values) {
		for (float value : values) {
			if (value != 0f) {
				return true;
			}
		}
		return false;
	}

	private static void put(Map<String, float[]> out, Map<String, long[]> shapes, String name, float[] values,
			long rows, long columns) {
		out.put(name, values);
		shapes.put(name, new long[] { rows, columns });
	}

	private static long[] longs(List<Long> shape) {
		return shape.stream().mapToLong(Long::longValue).toArray();
	}

	private Sources sources(Factoring request, BlobPins pins) {
		if (request.diffPatchId() != null) {
			// A diff patch already is the delta: a pair of models besides it would be a
			// second, conflicting source.
			if (request.baseModelId() != null || request.finetunedModelId() != null) {
				throw invalid("diffPatchId", "is exclusive with baseModelId and finetunedModelId");
			}
			ArtifactContent diff = this.registry.content(ArtifactType.PATCH,
					this.registry.resolve(ArtifactType.PATCH, request.diffPatchId(), "diffPatchId"), pins);
			if (diff.details().kind() != PatchKind.DIFF) {
				throw invalid("diffPatchId", "names a " + diff.details().kind() + " patch; expected a diff patch");
			}
			// The diff's base is only needed for modules saved whole (fine-tuned = base +
			// Δ).
			ArtifactContent base = (diff.details().baseModelId() != null)
					? this.registry.content(ArtifactType.MODEL, diff.details().baseModelId(), pins) : null;
			return new Sources(null, diff, base);
		}
		require("baseModelId", request.baseModelId());
		require("finetunedModelId", request.finetunedModelId());
		return new Sources(this.registry.content(ArtifactType.MODEL,
				this.registry.resolve(ArtifactType.MODEL, request.finetunedModelId(), "finetunedModelId"), pins), null,
				this.registry.content(ArtifactType.MODEL,
						this.registry.resolve(ArtifactType.MODEL, request.baseModelId(), "baseModelId"), pins));
	}

	private static List<Pattern> patterns(String field, List<String> regexes) {
		return DerivedRequests.patterns(field, regexes, LoraExtractions::invalid);
	}

	private ArtifactMetadata checked(ArtifactMetadata metadata) {
		return DerivedRequests.checked(this.validator, metadata, LoraExtractions::invalid);
	}

	private static void require(String field, Object value) {
		DerivedRequests.require(field, value, LoraExtractions::invalid);
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_EXTRACTION, field + ": " + reason, Map.of("field", field));
	}

	/**
	 * The tensors to extract from: a fine-tuned model and its base, or a diff patch and
	 * (when it names one) its base.
	 */
	private record Sources(ArtifactContent finetunedModel, ArtifactContent diff, ArtifactContent base) {

		UUID baseModelId() {
			return (this.base != null) ? this.base.details().id() : null;
		}

		List<String> tensorNames() {
			ArtifactContent source = (this.diff != null) ? this.diff : this.finetunedModel;
			return source.tensors()
				.stream()
				.filter((tensor) -> tensor.spec().dtype().isFloatingPoint())
				.filter((tensor) -> this.diff != null || baseTensor(tensor.name()) != null)
				.map(StoredTensor::name)
				.toList();
		}

		List<Long> shape(String name) {
			ArtifactContent source = (this.diff != null) ? this.diff : this.finetunedModel;
			return source.tensorsByName().get(name).spec().shape();
		}

		float[] delta(String name) throws IOException {
			if (this.diff != null) {
				return read(this.diff, name);
			}
			float[] tuned = read(this.finetunedModel, name);
			float[] original = read(this.base, name);
			if (original.length != tuned.length) {
				throw new UnprocessableException(ProblemKind.SHAPE_MISMATCH,
						"tensor '" + name + "' has different shapes in the two models", Map.of("tensor", name));
			}
			for (int i = 0; i < tuned.length; i++) {
				tuned[i] -= original[i];
			}
			return tuned;
		}

		/** The fine-tuned tensor: base + Δ for a diff patch. */
		float[] finetuned(String name) throws IOException {
			if (this.diff == null) {
				return read(this.finetunedModel, name);
			}
			if (this.base == null || baseTensor(name) == null) {
				throw new UnprocessableException(ProblemKind.NO_BASE,
						"module tensor '" + name + "' must be saved whole, which needs the diff's base model",
						Map.of("field", "diffPatchId"));
			}
			float[] values = read(this.diff, name);
			float[] original = read(this.base, name);
			for (int i = 0; i < values.length; i++) {
				values[i] += original[i];
			}
			return values;
		}

		private StoredTensor baseTensor(String name) {
			return (this.base != null) ? this.base.tensorsByName().get(name) : null;
		}

		private static float[] read(ArtifactContent artifact, String name) throws IOException {
			StoredTensor tensor = artifact.tensorsByName().get(name);
			return new TensorRows(artifact.fileOf(tensor), tensor).readAll();
		}

	}

	/**
	 * What happened to one module.
	 *
	 * @param module the module name
	 * @param outcome {@code lora}, {@code modules_to_save} or {@code skipped}
	 * @param rank the rank kept, for factored modules
	 * @param energyKept the fraction of the delta's squared Frobenius norm the factors
	 * keep
	 */
	public record ModuleReport(String module, String outcome, Integer rank, Double energyKept) {
	}

	/**
	 * An extracted adapter and its per-module report.
	 *
	 * @param patch the registered LoRA patch
	 * @param modules per module, what was extracted
	 */
	public record Extraction(ArtifactDetails patch, List<ModuleReport> modules) {
	}

}
