package dev.patchbay.composition;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import jakarta.validation.Validator;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ObjectNode;

import org.springframework.core.io.ByteArrayResource;
import org.springframework.stereotype.Service;

import dev.patchbay.engine.CounterRandom;
import dev.patchbay.engine.LowRank;
import dev.patchbay.engine.TaskMerge;
import dev.patchbay.engine.TensorEngine;
import dev.patchbay.engine.Workspace;
import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.LoraAdapter;
import dev.patchbay.registry.PatchKind;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.registry.Upload;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.BlobPins;
import dev.patchbay.storage.SafetensorsWriter;

/**
 * Combines LoRA patches into one without a base model, as PEFT's
 * {@code add_weighted_adapter}: {@code cat} concatenates the ranks (exact); the
 * factor-space types ({@code linear}, {@code ties}, {@code dare_*},
 * {@code magnitude_prune}) merge the A and B factors with {@code merge_utils}; the svd
 * types merge the deltas sᵢ·Bᵢ·Aᵢ the same way and re-factor the result to a rank by a
 * truncated SVD. Unlike PEFT's {@code add_weighted_adapter} at 5d602fdb, the svd types
 * weigh each delta by wᵢ alone (PR #3111: {@code get_delta_weight} already holds sᵢ), the
 * result never inherits {@code use_rslora} (its scaling is exactly 1), {@code lora_B}
 * biases are combined, and DoRA sources are refused. Each module's factors (and for svd
 * its delta) are held whole.
 */
@Service
public class LoraCombinations {

	// PEFT's key prefix in adapter_model.safetensors; module names are kept without it.
	private static final String PREFIX = "base_model.model.";

	/** Factor space: the merge acts on the A and B factors themselves. */
	private static final List<String> FACTOR_SPACE = List.of("linear", "ties", "dare_linear", "dare_ties",
			"magnitude_prune");

	/** Delta space: the merge acts on sᵢ·Bᵢ·Aᵢ, re-factored by a truncated SVD. */
	private static final List<String> DELTA_SPACE = List.of("svd", "ties_svd", "dare_linear_svd", "dare_ties_svd",
			"magnitude_prune_svd");

	private static final String NAMES = "cat, " + String.join(", ", FACTOR_SPACE) + ", "
			+ String.join(", ", DELTA_SPACE);

	private final TensorEngine engine;

	private final Registry registry;

	private final Ingest ingest;

	private final JsonMapper json;

	private final Validator validator;

	LoraCombinations(Registry registry, Ingest ingest, JsonMapper json, Validator validator, TensorEngine engine) {
		this.engine = engine;
		this.registry = registry;
		this.ingest = ingest;
		this.json = json;
		this.validator = validator;
	}

	/**
	 * Combines and registers the adapter.
	 * @throws InvalidInputException naming the invalid field
	 * @throws UnprocessableException if the sources cannot be combined
	 */
	public ArtifactDetails combine(Combination request, DerivedPatch patch) throws IOException {
		try (BlobPins pins = this.registry.pins()) {
			return combine(request, patch, pins);
		}
	}

	/**
	 * LoRA patches to combine.
	 *
	 * @param terms the adapters and their weights
	 * @param combination {@code cat}, a factor-space type ({@code linear}, {@code ties},
	 * …) or a delta-space one ({@code svd}, {@code ties_svd}, …)
	 * @param rank for the svd types, the rank kept; null for the largest source rank
	 * @param density for the pruning types, the fraction kept
	 * @param majoritySign for the ties types: total (default) or frequency
	 * @param seed for the dare types, the seed of the masks (default 0)
	 * @param svdClamp for the svd types, the quantile the factors' entries are clamped to
	 * @param fidelity exact (default) or peft-5d602fdb
	 */
	public record Combination(List<Term> terms, String combination, Integer rank, Double density, String majoritySign,
			Long seed, Double svdClamp, String fidelity) {

		/**
		 * One source adapter.
		 *
		 * @param patchId a LoRA patch: an id or a reference
		 * @param weight its weight
		 */
		public record Term(String patchId, Double weight) {
		}

	}

	// Every field is checked before any factor is read, so a bad request costs no I/O;
	// the sources stay pinned (by the caller) until the new patch is registered.
	private ArtifactDetails combine(Combination request, DerivedPatch patch, BlobPins pins) throws IOException {
		require("name", patch.name());
		require("combination", request.combination());
		String combination = request.combination();
		boolean svd = DELTA_SPACE.contains(combination);
		boolean factorSpace = FACTOR_SPACE.contains(combination);
		if (!svd && !factorSpace && !combination.equals("cat")) {
			throw invalid("combination", "'" + combination + "' is not supported; one of " + NAMES);
		}
		if (request.terms() == null || request.terms().isEmpty()) {
			throw invalid("terms", "must name at least one LoRA patch");
		}
		// Parameters a combination type does not use are refused, not ignored: PEFT
		// ignores them silently, which hides a request that does not do what its author
		// meant.
		if (!svd && request.rank() != null) {
			throw invalid("rank", "applies to the svd types only");
		}
		if (request.rank() != null && request.rank() < 1) {
			throw invalid("rank", "must be at least 1");
		}
		// The merge_utils function: svd is task arithmetic (linear), x_svd is x.
		String base = combination.equals("svd") ? "linear"
				: svd ? combination.substring(0, combination.length() - "_svd".length()) : combination;
		// PEFT's density: one value for all adapters, d ≥ 1 no pruning; (0, 1] here,
		// since a density above 1 would mean nothing different.
		boolean prunes = !base.equals("linear") && !base.equals("cat");
		if (prunes) {
			if (request.density() == null) {
				throw invalid("density", "is required by " + combination);
			}
			if (!(request.density() > 0 && request.density() <= 1)) {
				throw invalid("density", "must be in (0, 1]");
			}
		}
		else if (request.density() != null) {
			throw invalid("density", "applies to the ties, dare and magnitude_prune types only");
		}
		boolean ties = base.equals("ties") || base.equals("dare_ties");
		if (request.majoritySign() != null && !ties) {
			throw invalid("majoritySign", "applies to the ties types only");
		}
		if (request.majoritySign() != null && !List.of("total", "frequency").contains(request.majoritySign())) {
			throw invalid("majoritySign", "must be total or frequency");
		}
		if (request.seed() != null && !base.startsWith("dare")) {
			throw invalid("seed", "applies to the dare types only");
		}
		if (request.svdClamp() != null && !svd) {
			throw invalid("svdClamp", "applies to the svd types only");
		}
		if (request.svdClamp() != null && !(request.svdClamp() > 0 && request.svdClamp() < 1)) {
			throw invalid("svdClamp", "must be a quantile in (0, 1)");
		}
		if (request.fidelity() != null && !List.of("exact", "peft-5d602fdb").contains(request.fidelity())) {
			throw invalid("fidelity", "must be exact or peft-5d602fdb");
		}
		Merge merge = new Merge(
				base.startsWith("dare") ? TaskMerge.Pruning.RANDOM
						: prunes ? TaskMerge.Pruning.MAGNITUDE : TaskMerge.Pruning.NONE,
				prunes ? request.density() : 1, ties ? ("frequency".equals(request.majoritySign())
						? Workspace.SignElection.FREQUENCY : Workspace.SignElection.TOTAL) : null,
				(request.seed() != null) ? request.seed() : 0L);
		// PEFT before PR #3111 weighs each svd-type delta by wᵢ·sᵢ, on top of the sᵢ in
		// its delta.
		boolean doubleScaled = svd && "peft-5d602fdb".equals(request.fidelity());
		// No base model: a LoRA combination is a patch of patches, valid against whatever
		// model its sources were made for.
		ArtifactMetadata metadata = checked(
				new ArtifactMetadata(PatchKind.LORA, patch.name(), patch.version(), null, null, patch.labels(), null));
		List<Source> sources = new ArrayList<>();
		for (int t = 0; t < request.terms().size(); t++) {
			sources.add(source(request.terms().get(t), t, pins));
		}
		// Modules by name, sorted, each with the terms that carry it in term order; a
		// module only some adapters have is still combined from those.
		Map<String, List<Module>> modules = new TreeMap<>();
		for (int t = 0; t < sources.size(); t++) {
			for (LoraAdapter.LoraModule module : sources.get(t).adapter().adapter().modules()) {
				modules.computeIfAbsent(module.module(), (name) -> new ArrayList<>()).add(new Module(t, module));
			}
		}
		boolean linear = factorSpace;
		// merge_utils adds the factors elementwise, so they must have the same shape, as
		// PEFT's check demands.
		if (linear && sources.stream().mapToInt(Source::rank).distinct().count() > 1) {
			throw new UnprocessableException(ProblemKind.UNEQUAL_RANKS,
					combination + " combines the factors themselves, so every adapter needs the same rank; use cat"
							+ " or an svd type",
					Map.of("field", "combination"));
		}
		// The new r: svd types take the requested rank or the largest source rank, factor
		// space keeps the common rank, cat concatenates all ranks (PEFT's r′).
		int rank = svd
				? ((request.rank() != null) ? request.rank()
						: sources.stream().mapToInt(Source::rank).max().orElseThrow())
				: linear ? sources.get(0).rank() : sources.stream().mapToInt(Source::rank).sum();
		Map<String, float[]> out = new LinkedHashMap<>();
		Map<String, long[]> shapes = new LinkedHashMap<>();
		Set<String> targets = new TreeSet<>();
		boolean bias = false;
		for (Map.Entry<String, List<Module>> entry : modules.entrySet()) {
			String name = entry.getKey();
			LoraAdapter.LoraModule first = entry.getValue().get(0).module();
			List<Long> aShape = first.a().shape();
			List<Long> bShape = first.b().shape();
			int rows = Math.toIntExact(bShape.get(0));
			int columns = Math.toIntExact(first.a().elementCount() / aShape.get(0));
			// One module must mean the same layer in every adapter: same layout, same
			// input dimensions and the same output size.
			for (Module module : entry.getValue()) {
				if (module.module().layout() != first.layout()
						|| !module.module()
							.a()
							.shape()
							.subList(1, aShape.size())
							.equals(aShape.subList(1, aShape.size()))
						|| !module.module().b().shape().get(0).equals(bShape.get(0))) {
					throw new UnprocessableException(ProblemKind.INCOMPATIBLE_ADAPTERS,
							"module '" + name + "' has different shapes or layouts in the adapters",
							Map.of("field", "terms[" + module.term() + "]"));
				}
			}
			float[] a = new float[rank * columns];
			float[] b = new float[rows * rank];
			if (svd) {
				List<Module> present = entry.getValue();
				float[] weights = new float[present.size()];
				long[] keys = new long[present.size()];
				float[] delta;
				try (TaskMerge deltas = new TaskMerge(this.engine.backend(), rows * columns, present.size())) {
					for (int t = 0; t < present.size(); t++) {
						Module module = present.get(t);
						Source source = sources.get(module.term());
						// ΔWᵢ = sᵢ·Bᵢ·Aᵢ, weighted by wᵢ alone (PR #3111).
						deltas.lowRank(t, source.read(module.module().b()), rows, module.module().rank(),
								source.read(module.module().a()), columns, (float) module.module().scale());
						weights[t] = (float) (source.weight() * (doubleScaled ? module.module().scale() : 1));
						keys[t] = CounterRandom.key(name, module.term());
					}
					delta = deltas.merge(weights, merge.pruning(), merge.density(), merge.election(), merge.seed(),
							keys);
				}
				// PEFT's split: B′ = U_r·diag(S_r), A′ = V_rᵀ; a delta of lower rank than
				// r gives fewer factors.
				LowRank.Factorization factors = LowRank.factor(delta, rows, columns, rank, 0, LowRank.Split.LEFT);
				if (request.svdClamp() != null) {
					// PEFT's svd_clamp: one quantile over B′ and A′ together, both
					// clamped to it.
					factors = LowRank.clamp(factors, request.svdClamp());
				}
				// Zero-padded to the adapter's rank, so that one r serves every module.
				for (int o = 0; o < rows; o++) {
					System.arraycopy(factors.b(), o * factors.rank(), b, o * rank, factors.rank());
				}
				System.arraycopy(factors.a(), 0, a, 0, factors.a().length);
			}
			else if (linear) {
				// PEFT's factor space: A′ = f({Aᵢ}, sign(wᵢsᵢ)·√|wᵢsᵢ|),
				// B′ = f({Bᵢ}, √|wᵢsᵢ|) with f the merge_utils function of the
				// type, pruning and signs acting on the factors. Exact for one
				// adapter only: the product has cross terms.
				List<Module> present = entry.getValue();
				float[] signed = new float[present.size()];
				float[] roots = new float[present.size()];
				long[] aKeys = new long[present.size()];
				long[] bKeys = new long[present.size()];
				try (TaskMerge aFactors = new TaskMerge(this.engine.backend(), rank * columns, present.size());
						TaskMerge bFactors = new TaskMerge(this.engine.backend(), rows * rank, present.size())) {
					for (int t = 0; t < present.size(); t++) {
						Module module = present.get(t);
						Source source = sources.get(module.term());
						double weighted = source.weight() * module.module().scale();
						roots[t] = (float) Math.sqrt(Math.abs(weighted));
						signed[t] = (float) Math.signum(weighted) * roots[t];
						aFactors.load(t, source.read(module.module().a()));
						bFactors.load(t, source.read(module.module().b()));
						// A and B draw independent DARE masks, as PEFT prunes each factor
						// separately.
						aKeys[t] = CounterRandom.key(name + ".lora_A", module.term());
						bKeys[t] = CounterRandom.key(name + ".lora_B", module.term());
					}
					a = aFactors.merge(signed, merge.pruning(), merge.density(), merge.election(), merge.seed(), aKeys);
					b = bFactors.merge(roots, merge.pruning(), merge.density(), merge.election(), merge.seed(), bKeys);
				}
			}
			else {
				int offset = 0;
				int next = 0;
				for (int t = 0; t < sources.size(); t++) {
					Module module = (next < entry.getValue().size() && entry.getValue().get(next).term() == t)
							? entry.getValue().get(next++) : null;
					if (module != null) {
						Source source = sources.get(t);
						float[] moduleA = source.read(module.module().a());
						float[] moduleB = source.read(module.module().b());
						int r = module.module().rank();
						// cat: A′ rows carry wᵢ·sᵢ·Aᵢ and B′ columns Bᵢ, so s′·B′A′ = Σ
						// wᵢ sᵢ Bᵢ Aᵢ exactly with s′ = 1.
						float factor = (float) (source.weight() * module.module().scale());
						for (int k = 0; k < r; k++) {
							for (int i = 0; i < columns; i++) {
								a[(offset + k) * columns + i] = factor * moduleA[k * columns + i];
							}
						}
						for (int o = 0; o < rows; o++) {
							System.arraycopy(moduleB, o * r, b, o * rank + offset, r);
						}
					}
					// An adapter without the module leaves zero rows and columns.
					offset += sources.get(t).rank();
				}
			}
			float[] combinedBias = combinedBias(entry.getValue(), sources, rows);
			boolean embedding = first.layout() == LoraAdapter.Layout.EMBEDDING;
			String aName = PREFIX + name + (embedding ? ".lora_embedding_A" : ".lora_A.weight");
			String bName = PREFIX + name + (embedding ? ".lora_embedding_B" : ".lora_B.weight");
			// Only the rank axis changes: A′ is [r′, in…] (conv kernels keep their extra
			// axes) and B′ is [out, r′, …].
			List<Long> newA = new ArrayList<>(aShape);
			newA.set(0, (long) rank);
			List<Long> newB = new ArrayList<>(bShape);
			newB.set(1, (long) rank);
			out.put(aName, a);
			shapes.put(aName, longs(newA));
			out.put(bName, b);
			shapes.put(bName, longs(newB));
			if (combinedBias != null) {
				out.put(PREFIX + name + ".lora_B.bias", combinedBias);
				shapes.put(PREFIX + name + ".lora_B.bias", new long[] { rows });
				bias = true;
			}
			// target_modules holds leaf names, as PEFT writes it for a combined adapter.
			targets.add(name.substring(name.lastIndexOf('.') + 1));
		}
		LoraAdapter.AdapterConfig firstConfig = sources.get(0).adapter().adapter().config();
		ObjectNode config = this.json.createObjectNode();
		config.put("peft_type", "LORA");
		config.put("r", rank);
		// α = r gives a scaling of exactly 1, which the factors above assume.
		config.put("lora_alpha", rank);
		config.putPOJO("target_modules", List.copyOf(targets));
		// The combined scaling is exactly 1: rsLoRA is not inherited (PEFT #3761).
		config.put("use_rslora", false);
		config.put("use_dora", false);
		config.put("lora_bias", bias);
		// Inherited, as PEFT does: the factors keep the first adapter's orientation.
		config.put("fan_in_fan_out", firstConfig.fanInFanOut());
		config.putPOJO("rank_pattern", Map.of());
		config.putPOJO("alpha_pattern", Map.of());
		config.put("lora_dropout", 0.0);
		config.put("inference_mode", true);
		byte[] model = safetensors(out, shapes);
		return this.ingest.registerPatch(metadata, List.of(),
				new Upload("adapter_config", "adapter_config.json",
						new ByteArrayResource(this.json.writeValueAsBytes(config))),
				new Upload("adapter_model", "adapter_model.safetensors", new ByteArrayResource(model)));
	}

	/** Σ wᵢ·sᵢ·bᵢ over the sources whose module has a lora_B bias, or null if none. */
	private static float[] combinedBias(List<Module> modules, List<Source> sources, int rows) throws IOException {
		// PEFT #3761: add_weighted_adapter drops the sources' lora_B biases, a full logit
		// error for adapters trained with lora_bias; they are combined here like the
		// deltas.
		float[] combined = null;
		for (Module module : modules) {
			if (module.module().bias() == null) {
				continue;
			}
			combined = (combined != null) ? combined : new float[rows];
			Source source = sources.get(module.term());
			float[] values = source.read(module.module().bias());
			float factor = (float) (source.weight() * module.module().scale());
			for (int o = 0; o < rows; o++) {
				combined[o] += factor * values[o];
			}
		}
		return combined;
	}

	private Source source(Combination.Term term, int index, BlobPins pins) {
		String field = "terms[" + index + "]";
		if (term == null || term.patchId() == null) {
			throw invalid(field + ".patchId", "is required");
		}
		if (term.weight() == null || !Double.isFinite(term.weight())) {
			throw invalid(field + ".weight", "must be a finite number");
		}
		ArtifactContent patch = this.registry.content(ArtifactType.PATCH,
				this.registry.resolve(ArtifactType.PATCH, term.patchId(), field + ".patchId"), pins);
		if (patch.details().kind() != PatchKind.LORA) {
			throw invalid(field + ".patchId", "names a " + patch.details().kind() + " patch; expected a LoRA patch");
		}
		LoraAdapter adapter = patch.adapter();
		// DoRA's magnitude vectors are per source and have no weighted combination (PEFT
		// gives the new adapter its own, matching neither source), so DoRA is refused.
		if (adapter.config().useDora()) {
			throw new UnprocessableException(ProblemKind.DORA_COMBINATION,
					"patch " + term.patchId() + " is DoRA; its magnitude vectors have no combined counterpart",
					Map.of("field", field + ".patchId"));
		}
		// Saved modules are whole weights; PEFT refuses two adapters that share one.
		if (!adapter.modulesToSave().isEmpty()) {
			throw new UnprocessableException(ProblemKind.MODULES_TO_SAVE_COMBINATION,
					"patch " + term.patchId() + " has modules_to_save, which have no weighted combination",
					Map.of("field", field + ".patchId"));
		}
		for (LoraAdapter.LoraModule module : adapter.modules()) {
			if (module.layout() == LoraAdapter.Layout.CP || module.layout() == LoraAdapter.Layout.LORALIB_CONV) {
				throw new UnprocessableException(ProblemKind.UNSUPPORTED_LAYOUT,
						"module '" + module.module() + "' of patch " + term.patchId()
								+ " is CP-LoRA or loralib; only PEFT's layouts combine",
						Map.of("field", field + ".patchId"));
			}
		}
		// An adapter's rank is max(r, rank_pattern), as PEFT's check computes it.
		int rank = adapter.modules().stream().mapToInt(LoraAdapter.LoraModule::rank).max().orElse(0);
		return new Source(patch, term.weight(), Math.max(rank, adapter.config().r()));
	}

	private static long[] longs(List<Long> shape) {
		return shape.stream().mapToLong(Long::longValue).toArray();
	}

	/**
	 * An adapter file in float32, tensors in name order; held in memory, as a LoRA's
	 * factors are small next to the model they patch.
	 */
	static byte[] safetensors(Map<String, float[]> tensors, Map<String, long[]> shapes) throws IOException {
		List<String> names = new ArrayList<>(new TreeSet<>(tensors.keySet()));
		List<TensorSpec> specs = names.stream()
			.map((name) -> TensorSpec.of(name, DType.F32, shapes.get(name)))
			.toList();
		ByteArrayOutputStream bytes = new ByteArrayOutputStream();
		try (SafetensorsWriter writer = new SafetensorsWriter(bytes, specs, Map.of("format", "pt"))) {
			for (String name : names) {
				float[] values = tensors.get(name);
				ByteBuffer buffer = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
				buffer.asFloatBuffer().put(values);
				writer.write(buffer);
			}
		}
		return bytes.toByteArray();
	}

	private ArtifactMetadata checked(ArtifactMetadata metadata) {
		return DerivedRequests.checked(this.validator, metadata, LoraCombinations::invalid);
	}

	private static void require(String field, Object value) {
		DerivedRequests.require(field, value, LoraCombinations::invalid);
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_COMBINATION, field + ": " + reason,
				Map.of("field", field));
	}

	/** A source adapter, its weight, and its rank (the largest of its modules). */
	private record Source(ArtifactContent adapter, double weight, int rank) {

		float[] read(TensorSpec spec) throws IOException {
			StoredTensor tensor = this.adapter.tensorsByName().get(spec.name());
			return new TensorRows(this.adapter.fileOf(tensor), tensor).readAll();
		}

	}

	/** How the terms merge: PEFT's merge_utils function of the combination type. */
	private record Merge(TaskMerge.Pruning pruning, double density, Workspace.SignElection election, long seed) {
	}

	/** One source's module, with the index of its term. */
	private record Module(int term, LoraAdapter.LoraModule module) {
	}

}
