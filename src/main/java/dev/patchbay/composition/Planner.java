package dev.patchbay.composition;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.stereotype.Component;

import dev.patchbay.composition.CompositionInvalidException.Problem;
import dev.patchbay.composition.Plan.TensorPlan;
import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.CompatibilityReport;
import dev.patchbay.registry.LoraAdapter;
import dev.patchbay.registry.PatchKind;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.SecondMoments;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.Sha256;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.BlobPins;

/**
 * Turns a recipe into a plan, checking everything first: unknown ids are 404s, and every
 * incompatible tensor of every term is collected into one 422 before any compute.
 */
@Component
class Planner {

	private final Registry registry;

	private final JsonMapper json;

	Planner(Registry registry, JsonMapper json) {
		this.registry = registry;
		this.json = json;
	}

	/**
	 * What a request keeps of a valid recipe: the digest that identifies its result and
	 * the shape of the output.
	 *
	 * @param recipeDigest identifies the result
	 * @param outputSpecs the output tensors in file order
	 * @param outputBytes size of the output file
	 */
	record Validated(String recipeDigest, List<TensorSpec> outputSpecs, long outputBytes) {

		int tensors() {
			return this.outputSpecs.size();
		}

	}

	/**
	 * Checks a recipe against its inputs' manifests alone: no blob is read or downloaded.
	 * @throws dev.patchbay.registry.ArtifactNotFoundException if an id names nothing
	 * @throws CompositionInvalidException listing every incompatibility
	 */
	Validated validate(Recipe recipe) {
		// Runs on the request thread: a recipe is refused with its 404 or 422 before it
		// is queued, and the worker's plan() repeats the checks over the local files.
		if (recipe.sliced()) {
			Map<UUID, ArtifactContent> models = sliceModels(recipe,
					(id) -> this.registry.manifest(ArtifactType.MODEL, id));
			Plan plan = assembleSlices(recipe, models);
			return new Validated(digest(recipe, models), plan.outputSpecs(), plan.outputBytes());
		}
		List<ArtifactContent> terms = recipe.terms().stream().map(this::manifest).toList();
		ArtifactContent base = (recipe.baseModelId() != null)
				? this.registry.manifest(ArtifactType.MODEL, recipe.baseModelId()) : null;
		// The same assembly the worker runs, over content without local files: its
		// tensor rows name no file and are dropped here, never read.
		Plan plan = assemble(recipe, base, terms);
		return new Validated(digest(recipe, base, terms), plan.outputSpecs(), plan.outputBytes());
	}

	/**
	 * The plan over the inputs' manifests alone, reading no blob: which tensors each term
	 * changes can be inspected, but it cannot be executed.
	 * @throws dev.patchbay.registry.ArtifactNotFoundException if an id names nothing
	 * @throws CompositionInvalidException listing every incompatibility
	 */
	Plan outline(Recipe recipe) {
		List<ArtifactContent> terms = recipe.terms().stream().map(this::manifest).toList();
		ArtifactContent base = (recipe.baseModelId() != null)
				? this.registry.manifest(ArtifactType.MODEL, recipe.baseModelId()) : null;
		return assemble(recipe, base, terms);
	}

	/**
	 * Builds the executable plan, with the local files of every input (downloading them
	 * from S3 if need be) pinned until {@code pins} close, checking the recipe again on
	 * the way.
	 * @throws dev.patchbay.registry.ArtifactNotFoundException if an input was deleted
	 * @throws CompositionInvalidException listing every incompatibility
	 */
	Plan plan(Recipe recipe, BlobPins pins) {
		if (recipe.sliced()) {
			return assembleSlices(recipe,
					sliceModels(recipe, (id) -> this.registry.content(ArtifactType.MODEL, id, pins)));
		}
		ArtifactContent base = (recipe.baseModelId() != null)
				? this.registry.content(ArtifactType.MODEL, recipe.baseModelId(), pins) : null;
		List<ArtifactContent> terms = recipe.terms()
			.stream()
			.map((term) -> this.registry.local(manifest(term), pins))
			.toList();
		return assemble(recipe, base, terms);
	}

	/** A term's input: a whole model (mergekit dialect) or a patch. */
	private ArtifactContent manifest(Recipe.Term term) {
		return (term.modelId() != null) ? this.registry.manifest(ArtifactType.MODEL, term.modelId())
				: this.registry.manifest(ArtifactType.PATCH, term.patchId());
	}

	private Plan assemble(Recipe recipe, ArtifactContent base, List<ArtifactContent> patches) {
		// Recipe-level checks first (counts, required parameters, ranges): a recipe that
		// fails them would only bury its real problem under per-tensor ones.
		boolean mergekit = recipe.method() instanceof MergeMethod.Mergekit;
		List<Problem> problems = new ArrayList<>();
		if (mergekit) {
			MergekitMethods.checkRecipe(recipe)
				.forEach((problem) -> problems.add(new Problem(null, null, null, problem, null, null)));
			if (!problems.isEmpty()) {
				throw CompositionInvalidException.of(problems);
			}
		}
		boolean baseless = base == null;
		if (baseless) {
			// Without a base (linear, karcher, …) the first term gives the tensors and
			// their shapes, and the base reads as zeros.
			base = patches.get(0);
		}
		Map<String, StoredTensor> baseTensors = base.tensorsByName();
		Map<String, TermDelta[]> deltas = new LinkedHashMap<>();
		for (int term = 0; term < patches.size(); term++) {
			ArtifactContent patch = patches.get(term);
			String patchId = patch.details().id().toString();
			if (recipe.terms().get(term).modelId() != null) {
				modelDeltas(recipe, term, patch, base, patches.size(), deltas, problems);
				continue;
			}
			// The same check as GET /patches/{id}/compatibility, so a recipe fails
			// exactly where that endpoint would have said it does.
			CompatibilityReport report = this.registry.compatibility(patch, base);
			for (CompatibilityReport.Problem problem : report.problems()) {
				problems.add(new Problem(term, patchId, problem.tensor(), problem.message(), problem.expectedShape(),
						problem.actualShape()));
			}
			if (!report.compatible()) {
				continue;
			}
			for (Map.Entry<String, TermDelta> delta : deltasOf(patch).entrySet()) {
				StoredTensor target = baseTensors.get(delta.getKey());
				// A delta on an integer tensor (position ids, a quantized weight) has no
				// meaning; each such tensor is named.
				if (!target.spec().dtype().isFloatingPoint()) {
					problems.add(new Problem(
							term, patchId, delta.getKey(), "tensor '" + delta.getKey() + "' has dtype "
									+ target.spec().dtype() + "; only floating-point tensors can be patched",
							null, null));
				}
				deltas.computeIfAbsent(delta.getKey(), (name) -> new TermDelta[patches.size()])[term] = delta
					.getValue();
			}
		}
		if (!problems.isEmpty()) {
			throw CompositionInvalidException.of(problems);
		}
		List<SecondMoments> moments = curvatureMoments(recipe, patches, problems);
		if (!problems.isEmpty()) {
			throw CompositionInvalidException.of(problems);
		}
		// The layer count gives each tensor its gradient position t = layer / (n − 1), as
		// mergekit's planner computes it over the base's layers.
		int layers = 0;
		for (StoredTensor tensor : base.tensors()) {
			layers = Math.max(layers, MergekitMethods.layerOf(tensor.name()) + 1);
		}
		Set<String> tuningProblems = new LinkedHashSet<>();
		List<TensorPlan> tensors = new ArrayList<>();
		for (StoredTensor tensor : base.tensors()) {
			TermDelta[] terms = deltas.getOrDefault(tensor.name(), new TermDelta[patches.size()]);
			MergekitMethods.Tuning tuning = null;
			// Parameters are resolved per tensor now (filters, gradients, precedence), so
			// the executor only reads numbers, and a parameter that no tensor can take is
			// a 422 before any compute.
			if (mergekit && tensor.spec().dtype().isFloatingPoint()) {
				boolean[] present = new boolean[terms.length];
				for (int i = 0; i < terms.length; i++) {
					present[i] = terms[i] != null;
				}
				tuning = MergekitMethods.resolve(recipe, tensor.spec(), MergekitMethods.position(tensor.name(), layers),
						present, tuningProblems);
			}
			tensors.add(new TensorPlan(outputSpec(tensor.spec(), terms, recipe.outputDtype()),
					new TensorRows(base.fileOf(tensor), tensor), Arrays.asList(terms), tuning,
					(moments != null) ? momentsOf(tensor.name(), terms, moments) : null));
		}
		if (!tuningProblems.isEmpty()) {
			tuningProblems.forEach((problem) -> problems.add(new Problem(null, null, null, problem, null, null)));
			throw CompositionInvalidException.of(problems);
		}
		float[] weights = new float[recipe.terms().size()];
		for (int i = 0; i < weights.length; i++) {
			weights[i] = (float) recipe.terms().get(i).weight();
		}
		return new Plan(tensors, recipe.method(), weights, baseless, recipe.safeMerge(), recipe.computeDtype());
	}

	/** Every model a slices recipe names, the base first when it has one. */
	private static Map<UUID, ArtifactContent> sliceModels(Recipe recipe,
			java.util.function.Function<UUID, ArtifactContent> lookup) {
		Map<UUID, ArtifactContent> models = new LinkedHashMap<>();
		if (recipe.baseModelId() != null) {
			models.put(recipe.baseModelId(), lookup.apply(recipe.baseModelId()));
		}
		// Every model once, in first-mention order, whatever the number of slices naming
		// it.
		for (Recipe.Slice slice : recipe.slices()) {
			for (Recipe.Source source : slice.sources()) {
				models.computeIfAbsent(source.modelId(), lookup);
			}
		}
		return models;
	}

	/**
	 * A slices recipe (mergekit's frankenmerge): each slice's layers, taken from every
	 * source at the same offset, merged with the method and renumbered contiguously; the
	 * tensors before the layers (embeddings) merged from the first slice's sources and
	 * those after them (norm, output head) from the last slice's, at position 0, as
	 * mergekit's planner does. A slice's base is the base model among its sources.
	 */
	private static Plan assembleSlices(Recipe recipe, Map<UUID, ArtifactContent> models) {
		List<Problem> problems = new ArrayList<>();
		MergekitMethods.checkSlices(recipe)
			.forEach((problem) -> problems.add(new Problem(null, null, null, problem, null, null)));
		if (!problems.isEmpty()) {
			throw CompositionInvalidException.of(problems);
		}
		MergekitMethods.Spec spec = MergekitMethods.SPECS.get(recipe.method().wireName());
		// For linear and the like the base model, if a slice lists it, is one more
		// source; for base methods it is the base of every slice.
		boolean baseless = spec.base() == MergekitMethods.Base.NONE || recipe.baseModelId() == null;
		Map<UUID, Integer> layers = new LinkedHashMap<>();
		models.forEach((id, model) -> {
			int count = 0;
			for (StoredTensor tensor : model.tensors()) {
				count = Math.max(count, MergekitMethods.layerOf(tensor.name()) + 1);
			}
			layers.put(id, count);
		});
		for (int i = 0; i < recipe.slices().size(); i++) {
			List<Recipe.Source> sources = recipe.slices().get(i).sources();
			for (int j = 0; j < sources.size(); j++) {
				Recipe.Source source = sources.get(j);
				int available = layers.get(source.modelId());
				if (source.to() > available) {
					problems.add(new Problem(null, source.modelId().toString(), null,
							"slices[" + i + "].sources[" + j + "].layerRange: [" + source.from() + ", " + source.to()
									+ "] exceeds model " + source.modelId() + "'s " + available + " layers",
							null, null));
				}
			}
		}
		if (!problems.isEmpty()) {
			throw CompositionInvalidException.of(problems);
		}
		SliceAssembly assembly = new SliceAssembly(recipe, spec, baseless, models, problems);
		List<Recipe.Slice> slices = recipe.slices();
		assembly.outsideLayers(0, true);
		int out = 0;
		for (int i = 0; i < slices.size(); i++) {
			int length = slices.get(i).layers();
			for (int k = 0; k < length; k++) {
				// The gradient position restarts in every slice and is 1 for a one-layer
				// slice, as plan.py computes it.
				double t = (length > 1) ? (double) k / (length - 1) : 1;
				assembly.layer(i, k, out++, t);
			}
		}
		assembly.outsideLayers(slices.size() - 1, false);
		if (!problems.isEmpty() || !assembly.tuningProblems.isEmpty()) {
			assembly.tuningProblems
				.forEach((problem) -> problems.add(new Problem(null, null, null, problem, null, null)));
			throw CompositionInvalidException.of(problems);
		}
		// Slice weights live in each tensor's tuning; the plan's weights only size the
		// executor's slots.
		return new Plan(assembly.tensors, recipe.method(), new float[assembly.maxTerms], baseless, recipe.safeMerge(),
				recipe.computeDtype());
	}

	/** The output tensors of a slices recipe, built slice by slice. */
	private static final class SliceAssembly {

		private final Recipe recipe;

		private final MergekitMethods.Spec spec;

		private final boolean baseless;

		private final Map<UUID, ArtifactContent> models;

		private final List<Problem> problems;

		private final Map<UUID, Map<String, StoredTensor>> byName = new LinkedHashMap<>();

		final Set<String> tuningProblems = new LinkedHashSet<>();

		final List<TensorPlan> tensors = new ArrayList<>();

		int maxTerms;

		SliceAssembly(Recipe recipe, MergekitMethods.Spec spec, boolean baseless, Map<UUID, ArtifactContent> models,
				List<Problem> problems) {
			this.recipe = recipe;
			this.spec = spec;
			this.baseless = baseless;
			this.models = models;
			this.problems = problems;
			models.forEach((id, model) -> this.byName.put(id, model.tensorsByName()));
		}

		/** The source a slice's tensors take their base and shapes from. */
		private int reference(Recipe.Slice slice) {
			// The base model if it is among the slice's sources, else the first source:
			// its tensors give the output's names, shapes and dtype.
			if (!this.baseless) {
				for (int j = 0; j < slice.sources().size(); j++) {
					if (slice.sources().get(j).modelId().equals(this.recipe.baseModelId())) {
						return j;
					}
				}
			}
			return 0;
		}

		/** The tensors before (embeddings) or after (norm, head) the layers. */
		void outsideLayers(int sliceIndex, boolean before) {
			Recipe.Slice slice = this.recipe.slices().get(sliceIndex);
			ArtifactContent reference = this.models.get(slice.sources().get(reference(slice)).modelId());
			for (StoredTensor tensor : reference.tensors()) {
				if (MergekitMethods.layerOf(tensor.name()) < 0
						&& MergekitMethods.beforeLayers(tensor.name()) == before) {
					add(sliceIndex, tensor.name(), 0, 0);
				}
			}
		}

		/**
		 * Output layer {@code out}: layer {@code from + k} of each of a slice's sources.
		 */
		void layer(int sliceIndex, int k, int out, double t) {
			Recipe.Slice slice = this.recipe.slices().get(sliceIndex);
			Recipe.Source source = slice.sources().get(reference(slice));
			ArtifactContent reference = this.models.get(source.modelId());
			for (StoredTensor tensor : reference.tensors()) {
				if (MergekitMethods.layerOf(tensor.name()) == source.from() + k) {
					add(sliceIndex, MergekitMethods.renumbered(tensor.name(), out), k, t);
				}
			}
		}

		/**
		 * One output tensor: the reference source's tensor as base (or for its shape),
		 * the other sources' as model terms.
		 * @param name the output name; a layer tensor's inputs are found by renumbering
		 * it
		 * @param k the offset into the slice's ranges, for layer tensors
		 */
		private void add(int sliceIndex, String name, int k, double t) {
			Recipe.Slice slice = this.recipe.slices().get(sliceIndex);
			int referenceIndex = reference(slice);
			boolean layer = MergekitMethods.layerOf(name) >= 0;
			Recipe.Source referenceSource = slice.sources().get(referenceIndex);
			ArtifactContent referenceModel = this.models.get(referenceSource.modelId());
			StoredTensor base = this.byName.get(referenceSource.modelId())
				.get(layer ? MergekitMethods.renumbered(name, referenceSource.from() + k) : name);
			List<Integer> termSources = new ArrayList<>();
			for (int j = 0; j < slice.sources().size(); j++) {
				if (this.baseless || j != referenceIndex) {
					termSources.add(j);
				}
			}
			TermDelta[] terms = new TermDelta[termSources.size()];
			List<Map<String, ParameterValue>> own = new ArrayList<>();
			List<String> inputs = new ArrayList<>();
			List<String> fields = new ArrayList<>();
			boolean floating = base.spec().dtype().isFloatingPoint();
			for (int i = 0; i < terms.length; i++) {
				int j = termSources.get(i);
				Recipe.Source source = slice.sources().get(j);
				ArtifactContent model = this.models.get(source.modelId());
				String input = layer ? MergekitMethods.renumbered(name, source.from() + k) : name;
				own.add(source.parameters());
				inputs.add(input);
				fields.add("slices[" + sliceIndex + "].sources[" + j + "].parameters.");
				if (!floating) {
					continue;
				}
				String at = "slices[" + sliceIndex + "].sources[" + j + "]: ";
				StoredTensor tensor = this.byName.get(source.modelId()).get(input);
				String modelId = source.modelId().toString();
				if (tensor == null) {
					this.problems.add(new Problem(null, modelId, input,
							at + "model " + modelId + " has no tensor '" + input + "' (for output '" + name + "')",
							base.spec().shape(), null));
					continue;
				}
				List<Long> have = tensor.spec().shape();
				List<Long> want = base.spec().shape();
				// mergekit's rectify_embed cuts a larger vocabulary to the reference's
				// rows; a smaller one cannot be cut up and is a mismatch.
				boolean widerVocabulary = !layer && have.size() == 2 && want.size() == 2
						&& have.get(1).equals(want.get(1)) && have.get(0) > want.get(0) && isEmbedding(name);
				if (!have.equals(want) && !widerVocabulary) {
					// mergekit's GTA family skips a model whose tensor does not fit (with
					// a warning); other methods raise, and so do we.
					if (layer || !this.spec.gta()) {
						this.problems.add(new Problem(null, modelId, input,
								at + "tensor '" + input + "' of model " + modelId + " has shape " + have + ", not the "
										+ want + " of '" + base.name() + "' of model " + referenceSource.modelId(),
								want, have));
					}
					continue;
				}
				if (!tensor.spec().dtype().isFloatingPoint()) {
					this.problems.add(new Problem(null, modelId, input,
							at + "tensor '" + input + "' of model " + modelId + " is not floating-point", null, null));
					continue;
				}
				terms[i] = new TermDelta.Model(new TensorRows(model.fileOf(tensor), tensor));
			}
			// Integer tensors keep their dtype whatever out_dtype says: they are copied.
			DType dtype = (this.recipe.outputDtype() != null && floating) ? this.recipe.outputDtype()
					: base.spec().dtype();
			TensorSpec output = new TensorSpec(name, dtype, base.spec().shape());
			TensorRows rows = new TensorRows(referenceModel.fileOf(base), base);
			if (!floating) {
				this.tensors.add(new TensorPlan(output, rows, List.of(), null));
				return;
			}
			boolean[] present = new boolean[terms.length];
			for (int i = 0; i < terms.length; i++) {
				present[i] = terms[i] != null;
			}
			List<Map<String, ParameterValue>> levels = List.of(slice.parameters(), this.recipe.parameters());
			MergekitMethods.Tuning tuning = MergekitMethods.resolve(this.recipe, levels, own, inputs, fields, output, t,
					present, this.tuningProblems);
			if (this.spec.name().equals("passthrough") && dtype == base.spec().dtype()
					&& Double.valueOf(1.0).equals(tuning.terms().get(0).get("scale"))) {
				// Taken as is: copied byte for byte.
				this.tensors.add(new TensorPlan(output, rows, List.of(), null));
				return;
			}
			this.maxTerms = Math.max(this.maxTerms, terms.length);
			this.tensors.add(new TensorPlan(output, rows, Arrays.asList(terms), tuning));
		}

	}

	/**
	 * For a curvature-aware method, each term's second moments: null where a term needs
	 * none (ffg by magnitude), or before its files are local (validation checks only that
	 * they were uploaded). Null for every other method.
	 */
	private static List<SecondMoments> curvatureMoments(Recipe recipe, List<ArtifactContent> patches,
			List<Problem> problems) {
		String method = recipe.method().wireName();
		if (!(recipe.method() instanceof MergeMethod.Mergekit) || !(method.equals("ota") || method.equals("ffg"))) {
			return null;
		}
		// ffg by magnitude ranks |τ| alone and needs no second moments.
		ParameterValue metric = recipe.parameters().get("metric");
		if (method.equals("ffg") && metric != null && "magnitude".equals(metric.text("", 0))) {
			return Arrays.asList(new SecondMoments[patches.size()]);
		}
		List<SecondMoments> moments = new ArrayList<>();
		for (int term = 0; term < patches.size(); term++) {
			ArtifactContent patch = patches.get(term);
			String id = patch.details().id().toString();
			if (!SecondMoments.present(patch)) {
				problems.add(new Problem(term, id, null,
						"terms[" + term + "]: " + id + " has no second_moments; " + method
								+ " weighs each term by its fine-tune's optimizer second moments (Adam exp_avg_sq),"
								+ " uploaded as the second_moments part with its weights",
						null, null));
				moments.add(null);
				continue;
			}
			try {
				// A manifest has no files: validation only checks the moments were
				// uploaded, and the worker reads them from its local copy.
				moments.add((patch.files() != null) ? SecondMoments.of(patch) : null);
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
		}
		return moments;
	}

	private static List<TensorPlan.Moments> momentsOf(String tensor, TermDelta[] terms, List<SecondMoments> moments) {
		List<TensorPlan.Moments> list = new ArrayList<>();
		for (int term = 0; term < terms.length; term++) {
			SecondMoments of = moments.get(term);
			SecondMoments.Moments entry = (of != null && terms[term] != null) ? of.tensors().get(tensor) : null;
			if (entry == null) {
				list.add(null);
				continue;
			}
			// Moments may be uploaded whole or as rank-1 factors (row and column sums),
			// the storage OTA's rank1_approx needs.
			list.add(entry.rankOne()
					? new TensorPlan.Moments(null, new TensorRows(of.file(), entry.rows()),
							new TensorRows(of.file(), entry.columns()))
					: new TensorPlan.Moments(new TensorRows(of.file(), entry.full()), null, null));
		}
		return list;
	}

	/**
	 * A whole model as a term: every tensor of the base it has, as model − base. A larger
	 * vocabulary is cut to the base's rows (mergekit's embedding rectification); any
	 * other shape mismatch is a problem, except in the GTA family, where mergekit leaves
	 * the model out of that tensor.
	 */
	private static void modelDeltas(Recipe recipe, int term, ArtifactContent model, ArtifactContent base, int terms,
			Map<String, TermDelta[]> deltas, List<Problem> problems) {
		String modelId = model.details().id().toString();
		Map<String, StoredTensor> tensors = model.tensorsByName();
		MergekitMethods.Spec spec = MergekitMethods.SPECS.get(recipe.method().wireName());
		boolean skipMismatch = spec != null && spec.gta();
		// Walked in the base's order, so the output keeps the base's tensor order; a
		// tensor only the model has is not part of the output.
		for (StoredTensor target : base.tensors()) {
			StoredTensor tensor = tensors.get(target.name());
			if (!target.spec().dtype().isFloatingPoint()) {
				continue;
			}
			if (tensor == null) {
				problems.add(new Problem(term, modelId, target.name(),
						"model " + modelId + " has no tensor '" + target.name() + "'", target.spec().shape(), null));
				continue;
			}
			List<Long> have = tensor.spec().shape();
			List<Long> want = target.spec().shape();
			boolean widerVocabulary = have.size() == 2 && want.size() == 2 && have.get(1).equals(want.get(1))
					&& have.get(0) > want.get(0) && isEmbedding(target.name());
			if (!have.equals(want) && !widerVocabulary) {
				if (!skipMismatch) {
					problems.add(new Problem(term, modelId, target.name(), "tensor '" + target.name() + "' of model "
							+ modelId + " has shape " + have + ", the base's " + want, want, have));
				}
				continue;
			}
			if (!tensor.spec().dtype().isFloatingPoint()) {
				problems.add(new Problem(term, modelId, target.name(),
						"tensor '" + target.name() + "' of model " + modelId + " is not floating-point", null, null));
				continue;
			}
			deltas.computeIfAbsent(target.name(), (name) -> new TermDelta[terms])[term] = new TermDelta.Model(
					new TensorRows(model.fileOf(tensor), tensor));
		}
	}

	/** Vocabulary tensors, whose rows mergekit cuts to the common size. */
	private static boolean isEmbedding(String name) {
		return name.contains("embed_tokens") || name.contains("lm_head") || name.endsWith("wte.weight");
	}

	private Map<String, TermDelta> deltasOf(ArtifactContent patch) {
		Map<String, TermDelta> deltas = new LinkedHashMap<>();
		// LoRA patches are not expanded here: each module becomes a delta the executor
		// computes from its factors, chunk by chunk where it can.
		if (patch.details().kind() == PatchKind.LORA) {
			LoraAdapter adapter = patch.adapter();
			Map<String, StoredTensor> tensors = patch.tensorsByName();
			for (LoraAdapter.LoraModule module : adapter.modules()) {
				TensorRows magnitude = (module.magnitude() != null) ? rows(patch, tensors, module.magnitude()) : null;
				float scale = (float) module.scale();
				deltas.put(module.targetTensor(), switch (module.layout()) {
					case CP -> new TermDelta.CpLora(rows(patch, tensors, module.cp().out()),
							rows(patch, tensors, module.cp().in()), rows(patch, tensors, module.cp().kh()),
							rows(patch, tensors, module.cp().kw()), magnitude, scale);
					case LORALIB_CONV -> new TermDelta.LoralibConv(rows(patch, tensors, module.a()),
							rows(patch, tensors, module.b()), module.loralibKernel(), scale);
					// An embedding's delta is (B·A)ᵀ: rows are columns of A, as with
					// fan_in_fan_out.
					case EMBEDDING -> new TermDelta.Lora(rows(patch, tensors, module.a()),
							rows(patch, tensors, module.b()), null, scale, true);
					case LINEAR, CONV -> new TermDelta.Lora(rows(patch, tensors, module.a()),
							rows(patch, tensors, module.b()), magnitude, scale, adapter.config().fanInFanOut());
				});
				if (module.bias() != null) {
					deltas.put(module.module() + ".bias",
							new TermDelta.LoraBias(rows(patch, tensors, module.bias()), scale));
				}
			}
			// PEFT's modules_to_save replace the base tensor outright instead of adding
			// to it.
			for (LoraAdapter.SavedTensor saved : adapter.modulesToSave()) {
				deltas.put(saved.target(), new TermDelta.Replacement(rows(patch, tensors, saved.tensor())));
			}
		}
		// A quantized RWS signature holds all tensors' codes in three shared tensors;
		// each delta reads its slice of them through the layout stored in the patch
		// config.
		else if (quantizedLayout(patch) != null) {
			JsonNode config = this.json.readTree(patch.config());
			Map<String, StoredTensor> tensors = patch.tensorsByName();
			int bits = config.path("quantization").path("bits").asInt();
			quantizedLayout(patch).properties().forEach((entry) -> {
				JsonNode layout = entry.getValue();
				deltas.put(entry.getKey(),
						new TermDelta.Quantized(rows(patch, tensors, Derivations.CODES),
								layout.path("codeOffset").asLong(), rows(patch, tensors, Derivations.SCALES),
								rows(patch, tensors, Derivations.MINIMUMS), layout.path("channelOffset").asInt(),
								layout.path("channels").asInt(),
								layout.path("shape").valueStream().map(JsonNode::asLong).toList(), bits));
			});
		}
		else {
			for (StoredTensor tensor : patch.tensors()) {
				deltas.put(tensor.name(), new TermDelta.Stored(new TensorRows(patch.fileOf(tensor), tensor)));
			}
		}
		return deltas;
	}

	private static TensorRows rows(ArtifactContent patch, Map<String, StoredTensor> tensors, TensorSpec spec) {
		return rows(patch, tensors, spec.name());
	}

	private static TensorRows rows(ArtifactContent patch, Map<String, StoredTensor> tensors, String name) {
		StoredTensor location = tensors.get(name);
		return new TensorRows(patch.fileOf(location), location);
	}

	/** The per-tensor layout of a quantized signature, or null for any other patch. */
	private JsonNode quantizedLayout(ArtifactContent patch) {
		if (patch.details().kind() != PatchKind.RWS || patch.config() == null) {
			return null;
		}
		JsonNode layout = this.json.readTree(patch.config()).path("tensors");
		return layout.isObject() ? layout : null;
	}

	/**
	 * Floating-point tensors take the requested output dtype; vocabulary tensors grow to
	 * the largest row count among base and stored deltas (padding with zeros).
	 */
	private static TensorSpec outputSpec(TensorSpec base, TermDelta[] terms, DType outputDtype) {
		DType dtype = (outputDtype != null && base.dtype().isFloatingPoint()) ? outputDtype : base.dtype();
		List<Long> shape = new ArrayList<>(base.shape());
		for (TermDelta term : terms) {
			if (term instanceof TermDelta.Stored stored && !shape.isEmpty()) {
				// A diff from a model with added tokens has more rows than the base; the
				// base reads as zeros there, so the new rows are the fine-tuned ones.
				shape.set(0, Math.max(shape.get(0), stored.delta().rows()));
			}
		}
		return new TensorSpec(base.name(), dtype, shape);
	}

	/**
	 * Identical recipes get one digest: the canonical recipe names each input by id and
	 * by content digest, with the weights, the method and the output dtype.
	 */
	private static String digest(Recipe recipe, Map<UUID, ArtifactContent> models) {
		StringBuilder slices = new StringBuilder();
		for (Recipe.Slice slice : recipe.slices()) {
			slices.append("\nslice;parameters=").append(ParameterValue.canonical(slice.parameters()));
			for (Recipe.Source source : slice.sources()) {
				ArtifactContent model = models.get(source.modelId());
				slices.append("\nsource=")
					.append(source.modelId())
					.append(':')
					.append(model.contentDigest())
					.append("@[")
					.append(source.from())
					.append(',')
					.append(source.to())
					.append(");parameters=")
					.append(ParameterValue.canonical(source.parameters()));
			}
		}
		ArtifactContent base = (recipe.baseModelId() != null) ? models.get(recipe.baseModelId()) : null;
		return digest(recipe, base, List.of(), slices.toString());
	}

	private static String digest(Recipe recipe, ArtifactContent base, List<ArtifactContent> patches) {
		return digest(recipe, base, patches, "");
	}

	private static String digest(Recipe recipe, ArtifactContent base, List<ArtifactContent> patches, String slices) {
		// Inputs by id and content digest: re-uploading the same bytes under a new id is
		// a new recipe, and so is any change of bytes behind an id. Weights by
		// Double.toString, which is exact and canonical.
		StringBuilder canonical = new StringBuilder("patchbay-composition-v1\nbase=");
		if (base != null) {
			canonical.append(base.details().id()).append(':').append(base.contentDigest());
		}
		for (int i = 0; i < patches.size(); i++) {
			canonical.append("\nterm=")
				.append(patches.get(i).details().id())
				.append(':')
				.append(patches.get(i).contentDigest())
				.append('@')
				.append(Double.toString(recipe.terms().get(i).weight()));
			if (recipe.terms().get(i).modelId() != null) {
				canonical.append(";model");
			}
			if (!recipe.terms().get(i).parameters().isEmpty()) {
				canonical.append(";parameters=").append(ParameterValue.canonical(recipe.terms().get(i).parameters()));
			}
		}
		MergeMethod method = recipe.method();
		canonical.append("\nmethod=")
			.append(method.wireName())
			.append(";density=")
			.append(method.density())
			.append(";sign=")
			.append(method.majoritySign())
			.append(";seed=")
			.append(method.seed())
			.append("\ndtype=")
			.append(recipe.outputDtype());
		if (recipe.dialect() != Recipe.Dialect.PEFT) {
			// Appended only here, so that PEFT-dialect recipes keep their digests.
			canonical.append("\ndialect=")
				.append(recipe.dialect())
				.append(";parameters=")
				.append(ParameterValue.canonical(recipe.parameters()));
		}
		if (!recipe.safeMerge()) {
			// Appended only here, so that safe recipes keep their digests.
			canonical.append("\nsafeMerge=false");
		}
		canonical.append(slices);
		if (recipe.computeDtype() != null) {
			canonical.append("\ncompute=").append(recipe.computeDtype());
		}
		return Sha256.hex(canonical.toString());
	}

}
