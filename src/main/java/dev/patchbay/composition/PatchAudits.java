package dev.patchbay.composition;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

import com.google.re2j.Matcher;
import com.google.re2j.Pattern;

import org.springframework.stereotype.Service;

import dev.patchbay.composition.Plan.TensorPlan;
import dev.patchbay.composition.PlanExecutor.Layout;
import dev.patchbay.composition.PlanExecutor.TensorRun;
import dev.patchbay.engine.ChangeStatistics;
import dev.patchbay.engine.CounterRandom;
import dev.patchbay.engine.TensorEngine;
import dev.patchbay.engine.Workspace;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.BlobPins;

/**
 * Audits patches against models, against neuron-pruning attacks (NeuroStrike): for every
 * tensor a patch changes it computes the patched weights chunk by chunk, with the same
 * plan and term deltas a composition uses, and measures the change, the neurons whose
 * norm collapses, and each matrix's top singular value before and after by power
 * iteration. Memory is bounded by the chunks in flight, plus per tensor one norm per row
 * or column and the power-iteration vectors.
 */
@Service
public class PatchAudits {

	// The layer's prefix up to its number, so every tensor of one transformer block is
	// summed into one finding.
	private static final Pattern LAYER = Pattern.compile("^(.*?(?:^|\\.)(?:layers|h|blocks|layer)\\.\\d+)\\.");

	private final Registry registry;

	private final Planner planner;

	private final TensorEngine engine;

	private final int chunkElements;

	private final AuditProperties properties;

	// Configured regexes for the MLP tensors whose rows (up, gate) or columns (down) are
	// neurons: NeuroStrike removes a neuron by zeroing them.
	private final List<Pattern> neuronRows;

	private final List<Pattern> neuronColumns;

	/** Audits, least recently used first; artifacts are immutable. */
	private final Map<Key, PatchAudit> cache;

	/** A cached audit: of a patch against a model, full or only the screening. */
	private record Key(UUID patchId, UUID modelId, boolean full) {
	}

	PatchAudits(Registry registry, Planner planner, TensorEngine engine, CompositionProperties composition,
			AuditProperties properties) {
		this.registry = registry;
		this.planner = planner;
		this.engine = engine;
		this.chunkElements = composition.chunkElements();
		this.properties = properties;
		this.neuronRows = properties.neuronRows().stream().map(Pattern::compile).toList();
		this.neuronColumns = properties.neuronColumns().stream().map(Pattern::compile).toList();
		int entries = properties.cacheEntries();
		// Access order plus removeEldestEntry is an LRU; ids name immutable bytes, so an
		// entry never goes stale, and the bound keeps the cache's memory fixed.
		this.cache = Collections.synchronizedMap(new LinkedHashMap<>(16, 0.75f, true) {
			@Override
			protected boolean removeEldestEntry(Map.Entry<Key, PatchAudit> eldest) {
				return size() > entries;
			}
		});
	}

	/**
	 * Audits a patch at weight 1 against a model, by default the patch's own base.
	 * @throws dev.patchbay.registry.ArtifactNotFoundException if the patch or the model
	 * does not exist
	 * @throws InvalidInputException naming {@code modelId} if it is absent and the patch
	 * has no base model
	 * @throws CompositionInvalidException if the patch does not fit the model
	 * @throws UnprocessableException if a patched value is NaN or infinite
	 */
	public PatchAudit audit(UUID patchId, UUID modelId) throws IOException {
		ArtifactDetails patch = this.registry.get(ArtifactType.PATCH, patchId);
		UUID model = (modelId != null) ? modelId : patch.baseModelId();
		if (model == null) {
			throw new InvalidInputException(ProblemKind.INVALID_PARAMETER,
					"modelId: is required, since patch " + patchId + " names no base model",
					Map.of("field", "modelId"));
		}
		this.registry.get(ArtifactType.MODEL, model);
		return audit(patchId, model, true);
	}

	/**
	 * A full audit, or (not {@code full}) the policy's screening: only the neuron
	 * tensors, no singular values, which is what a composition request needs to decide,
	 * in one pass over the MLP tensors the patch changes. A cached full audit serves
	 * both.
	 */
	private PatchAudit audit(UUID patchId, UUID model, boolean full) throws IOException {
		PatchAudit cached = this.cache.get(new Key(patchId, model, true));
		if (cached == null && !full) {
			cached = this.cache.get(new Key(patchId, model, false));
		}
		if (cached != null) {
			return cached;
		}
		// The patch at weight 1 through the composition planner: the audit sees exactly
		// the weights a composition would write, LoRA and quantized patches included.
		Recipe recipe = new Recipe(model, List.of(new Recipe.Term(patchId, 1.0)), new MergeMethod.Sum(), null, false);
		// A screening decided by the manifests reads no blob: a patch that changes no
		// neuron tensor removes no neuron.
		boolean screened = !full && this.planner.outline(recipe)
			.tensors()
			.stream()
			.noneMatch((tensor) -> !tensor.untouched() && neuronAxis(tensor.output()) != NeuronAxis.NONE);
		PatchAudit audit;
		if (screened) {
			audit = new PatchAudit(patchId, model, false, policy(), List.of());
		}
		else {
			try (BlobPins pins = this.registry.pins()) {
				audit = run(patchId, model, this.planner.plan(recipe, pins), full);
			}
		}
		// A full audit is cached under full = true, which also serves later screenings.
		if (this.properties.cacheEntries() > 0) {
			this.cache.put(new Key(patchId, model, full), audit);
		}
		return audit;
	}

	/**
	 * The flagged audits of a recipe's patches, each against the recipe's base (or, with
	 * no base, the patch's own, if it has one). Whole-model terms are not audited.
	 */
	List<PatchAudit> flagged(Recipe recipe) throws IOException {
		List<PatchAudit> flagged = new ArrayList<>();
		Set<UUID> seen = new HashSet<>();
		for (Recipe.Term term : recipe.terms()) {
			if (term.patchId() == null || !seen.add(term.patchId())) {
				continue;
			}
			// Only a screening runs here: a composition request waits for it, and the
			// neuron tensors alone decide the flag.
			UUID model = (recipe.baseModelId() != null) ? recipe.baseModelId()
					: this.registry.get(ArtifactType.PATCH, term.patchId()).baseModelId();
			if (model != null) {
				PatchAudit audit = audit(term.patchId(), model, false);
				if (audit.flagged()) {
					flagged.add(audit);
				}
			}
		}
		return flagged;
	}

	/**
	 * What a composition records, and a refusal names, of flagged audits: per patch and
	 * flagged layer, how many of its neurons the patch removes.
	 */
	static List<Map<String, Object>> findings(List<PatchAudit> flagged) {
		return flagged.stream()
			.map((audit) -> Map.<String, Object>of("patchId", audit.patchId().toString(), "modelId",
					audit.modelId().toString(), "layers",
					audit.flaggedLayers()
						.stream()
						.map((layer) -> Map.of("layer", layer.layer(), "neurons", layer.neurons(), "removedNeurons",
								layer.removedNeurons().size()))
						.toList()))
			.toList();
	}

	/** The 422 for a recipe with flagged patches and no acknowledgement. */
	UnprocessableException refusal(List<PatchAudit> flagged) {
		StringBuilder detail = new StringBuilder();
		for (PatchAudit audit : flagged) {
			for (PatchAudit.Layer layer : audit.flaggedLayers()) {
				detail.append((detail.length() > 0) ? "; " : "")
					.append("patch ")
					.append(audit.patchId())
					.append(" removes ")
					.append(layer.removedNeurons().size())
					.append(" of ")
					.append(layer.neurons())
					.append(" neurons in ")
					.append(layer.layer());
			}
		}
		return new UnprocessableException(ProblemKind.PATCH_AUDIT_FLAGGED,
				detail + " (more than patchbay.audit.removed-neuron-fraction = "
						+ this.properties.removedNeuronFraction()
						+ " of a layer); an admin key may compose it with \"acknowledgeAudit\": true",
				Map.of("field", "acknowledgeAudit", "flagged", findings(flagged)));
	}

	private PatchAudit run(UUID patchId, UUID modelId, Plan plan, boolean full) throws IOException {
		PlanExecutor executor = new PlanExecutor(plan, this.engine, this.chunkElements);
		List<Layout> layouts = plan.tensors()
			.stream()
			.filter((tensor) -> !tensor.untouched())
			// Untouched tensors need no measuring; a screening only the neuron tensors.
			.filter((tensor) -> full || neuronAxis(tensor.output()) != NeuronAxis.NONE)
			.map(executor::layout)
			.toList();
		int capacity = layouts.stream().mapToInt(Layout::chunkCapacity).max().orElse(0);
		Map<String, LayerTotals> layers = new LinkedHashMap<>();
		try (InputFiles inputs = new InputFiles();
				// One term only: the base slot, the merged slot and the patch's delta.
				PlanExecutor.Workspaces workspaces = executor.new Workspaces(capacity, PlanExecutor.FIRST_TERM + 1)) {
			for (Layout layout : layouts) {
				String name = layout.tensor().output().name();
				TensorAudit tensor = new TensorAudit(executor.new TensorRun(layout, inputs, workspaces));
				tensor.measure(full);
				layers.computeIfAbsent(layerOf(name), LayerTotals::new).add(tensor);
			}
		}
		List<PatchAudit.Layer> result = layers.values().stream().map(LayerTotals::layer).toList();
		return new PatchAudit(patchId, modelId, result.stream().anyMatch(PatchAudit.Layer::flagged), policy(), result);
	}

	private PatchAudit.Policy policy() {
		return new PatchAudit.Policy(this.properties.removedNeuronFraction(), this.properties.collapseFraction());
	}

	/**
	 * The layer a tensor belongs to: its {@code layers.N} block, else its module (the
	 * name without its last part).
	 */
	static String layerOf(String tensor) {
		Matcher matcher = LAYER.matcher(tensor);
		if (matcher.find()) {
			return matcher.group(1);
		}
		int dot = tensor.lastIndexOf('.');
		return (dot > 0) ? tensor.substring(0, dot) : tensor;
	}

	private static boolean matches(List<Pattern> patterns, String name) {
		return patterns.stream().anyMatch((pattern) -> pattern.matcher(name).find());
	}

	private NeuronAxis neuronAxis(TensorSpec tensor) {
		// A neuron is a row or column of a matrix; biases and norms have none.
		if (tensor.shape().size() < 2) {
			return NeuronAxis.NONE;
		}
		if (matches(this.neuronRows, tensor.name())) {
			return NeuronAxis.ROWS;
		}
		return matches(this.neuronColumns, tensor.name()) ? NeuronAxis.COLUMNS : NeuronAxis.NONE;
	}

	/** Where a tensor's neurons lie, if it has any. */
	private enum NeuronAxis {

		NONE, ROWS, COLUMNS

	}

	/** One tensor's measurements, taken in passes over its chunks. */
	private final class TensorAudit {

		private final TensorRun run;

		private final Layout layout;

		private final String name;

		private final NeuronAxis axis;

		private final boolean matrix;

		private final int columns;

		final ChangeStatistics change = new ChangeStatistics();

		/** Per neuron, its squared norm in the base and in the patched tensor. */
		private double[] baseNorms;

		private double[] patchedNorms;

		/** Whether the singular values were computed. */
		boolean spectra;

		double sigmaBefore;

		double sigmaAfter;

		TensorAudit(TensorRun run) {
			this.run = run;
			this.layout = run.layout;
			this.name = this.layout.tensor().output().name();
			this.matrix = this.layout.tensor().output().shape().size() >= 2;
			this.columns = this.layout.rowElements();
			this.axis = neuronAxis(this.layout.tensor().output());
		}

		String name() {
			return this.name;
		}

		boolean isMatrix() {
			return this.matrix;
		}

		boolean hasNeurons() {
			return this.axis != NeuronAxis.NONE;
		}

		int neurons() {
			return switch (this.axis) {
				case ROWS -> Math.toIntExact(this.layout.rows());
				case COLUMNS -> this.columns;
				case NONE -> 0;
			};
		}

		/** Measures the tensor, and with {@code spectra} its matrix's singular values. */
		void measure(boolean spectra) throws IOException {
			int neurons = neurons();
			this.baseNorms = new double[neurons];
			this.patchedNorms = new double[neurons];
			// A tensor that fits in one chunk stays in the workspace for the power
			// iteration; a larger one is recomputed chunk by chunk on every step instead
			// of held whole.
			boolean single = this.layout.chunks() == 1;
			boolean iterate = spectra && this.matrix;
			this.spectra = iterate;
			this.run.forEachChunk((workspace, chunk, state) -> {
				int rows = rowsOf(chunk);
				load(workspace, chunk);
				ChangeStatistics local = new ChangeStatistics();
				workspace.changeStatistics(PlanExecutor.FIRST_TERM, PlanExecutor.BASE, rows * this.columns, local);
				this.change.add(local);
				// The delta slot now becomes the patched weights.
				workspace.add(PlanExecutor.FIRST_TERM, PlanExecutor.BASE, rows * this.columns);
				norms(workspace, chunk, rows);
				if (single && iterate) {
					// The whole tensor is in the workspace: iterate on it in place.
					powerIteration(workspace);
				}
			}, (state) -> {
			});
			// Checked after the pass, before the power iteration, which would only spread
			// the NaN.
			if (this.change.nonFinite() > 0) {
				throw new UnprocessableException(ProblemKind.AUDIT_NOT_FINITE,
						"tensor '" + this.name + "' would hold NaN or an infinity once patched",
						Map.of("tensor", this.name));
			}
			if (!single && iterate) {
				powerIteration(null);
			}
		}

		private int rowsOf(int chunk) {
			return (int) Math.min(this.layout.chunkRows(), this.layout.rows() - (long) chunk * this.layout.chunkRows());
		}

		/** The chunk's base in BASE and the term's delta in the first term slot. */
		private void load(Workspace workspace, int chunk) throws IOException {
			if (!this.run.fill(workspace, chunk, new boolean[] { true })) {
				this.run.loadBase(workspace, chunk);
			}
		}

		private void norms(Workspace workspace, int chunk, int rows) {
			if (this.axis == NeuronAxis.ROWS) {
				// Each chunk owns its rows' entries: no two workers write the same one.
				int first = chunk * this.layout.chunkRows();
				workspace.squaredNorms(PlanExecutor.BASE, rows, this.columns, true, this.baseNorms, first);
				workspace.squaredNorms(PlanExecutor.FIRST_TERM, rows, this.columns, true, this.patchedNorms, first);
			}
			else if (this.axis == NeuronAxis.COLUMNS) {
				// Column norms span every chunk: each worker sums its own rows, then
				// folds them in under the lock.
				double[] base = new double[this.columns];
				double[] patched = new double[this.columns];
				workspace.squaredNorms(PlanExecutor.BASE, rows, this.columns, false, base, 0);
				workspace.squaredNorms(PlanExecutor.FIRST_TERM, rows, this.columns, false, patched, 0);
				synchronized (this) {
					for (int c = 0; c < this.columns; c++) {
						this.baseNorms[c] += base[c];
						this.patchedNorms[c] += patched[c];
					}
				}
			}
		}

		/**
		 * The top singular values of the base and the patched matrix, iterating both
		 * vectors together: on the workspace's slots when the tensor is one chunk,
		 * otherwise by a pass over every chunk per step, computing the delta again.
		 */
		private void powerIteration(Workspace resident) throws IOException {
			float[] before = start();
			float[] after = before.clone();
			double lambdaBefore = -1;
			double lambdaAfter = -1;
			boolean doneBefore = false;
			boolean doneAfter = false;
			for (int step = 0; step < PatchAudits.this.properties.powerIterations()
					&& !(doneBefore && doneAfter); step++) {
				double[] yBefore = new double[this.columns];
				double[] yAfter = new double[this.columns];
				if (resident != null) {
					int rows = Math.toIntExact(this.layout.rows());
					resident.gramProduct(PlanExecutor.BASE, rows, this.columns, before, yBefore);
					resident.gramProduct(PlanExecutor.FIRST_TERM, rows, this.columns, after, yAfter);
				}
				else {
					float[] vBefore = before;
					float[] vAfter = after;
					this.run.forEachChunk((workspace, chunk, state) -> {
						int rows = rowsOf(chunk);
						load(workspace, chunk);
						workspace.add(PlanExecutor.FIRST_TERM, PlanExecutor.BASE, rows * this.columns);
						double[] localBefore = new double[this.columns];
						double[] localAfter = new double[this.columns];
						workspace.gramProduct(PlanExecutor.BASE, rows, this.columns, vBefore, localBefore);
						workspace.gramProduct(PlanExecutor.FIRST_TERM, rows, this.columns, vAfter, localAfter);
						synchronized (yBefore) {
							for (int c = 0; c < this.columns; c++) {
								yBefore[c] += localBefore[c];
								yAfter[c] += localAfter[c];
							}
						}
					}, (state) -> {
					});
				}
				// With v of unit length, vᵀ·MᵀM·v (the Rayleigh quotient) estimates σ².
				double estimateBefore = dot(before, yBefore);
				double estimateAfter = dot(after, yAfter);
				doneBefore = converged(lambdaBefore, estimateBefore);
				doneAfter = converged(lambdaAfter, estimateAfter);
				lambdaBefore = estimateBefore;
				lambdaAfter = estimateAfter;
				before = normalized(yBefore, before);
				after = normalized(yAfter, after);
			}
			this.sigmaBefore = Math.sqrt(Math.max(0, lambdaBefore));
			this.sigmaAfter = Math.sqrt(Math.max(0, lambdaAfter));
		}

		/** Relative change of the Rayleigh quotient below the configured tolerance. */
		private boolean converged(double previous, double estimate) {
			return previous >= 0 && Math.abs(estimate - previous) <= PatchAudits.this.properties.powerTolerance()
					* Math.max(estimate, Double.MIN_NORMAL);
		}

		/**
		 * A deterministic start, from the counter stream keyed by the tensor's name, so
		 * that an audit gives the same numbers every time.
		 */
		private float[] start() {
			long key = CounterRandom.key(this.name, 0);
			double[] start = new double[this.columns];
			for (int c = 0; c < this.columns; c++) {
				start[c] = CounterRandom.uniform(0, key, c) - 0.5;
			}
			return normalized(start, new float[this.columns]);
		}

		/** y / ‖y‖, or the previous vector when y is zero (the matrix is zero). */
		private static float[] normalized(double[] y, float[] previous) {
			double norm = 0;
			for (double value : y) {
				norm += value * value;
			}
			norm = Math.sqrt(norm);
			if (norm == 0 || !Double.isFinite(norm)) {
				return previous;
			}
			float[] v = new float[y.length];
			for (int i = 0; i < y.length; i++) {
				v[i] = (float) (y[i] / norm);
			}
			return v;
		}

		private static double dot(float[] v, double[] y) {
			double sum = 0;
			for (int i = 0; i < v.length; i++) {
				sum += v[i] * y[i];
			}
			return sum;
		}

		/** Indices of the neurons whose patched norm fell below the collapse fraction. */
		List<Integer> removed() {
			// A neuron already zero in the base is not counted: the patch did not remove
			// it.
			double fraction = PatchAudits.this.properties.collapseFraction();
			List<Integer> removed = new ArrayList<>();
			for (int i = 0; i < this.baseNorms.length; i++) {
				// Compared squared: ‖p‖ < f·‖b‖ ⇔ ‖p‖² < f²·‖b‖².
				if (this.baseNorms[i] > 0 && this.patchedNorms[i] < fraction * fraction * this.baseNorms[i]) {
					removed.add(i);
				}
			}
			return removed;
		}

	}

	/** A layer's tensors, summed as they are measured. */
	private final class LayerTotals {

		private final String layer;

		private final List<String> tensors = new ArrayList<>();

		private final List<PatchAudit.Matrix> matrices = new ArrayList<>();

		private final TreeSet<Integer> removed = new TreeSet<>();

		private final ChangeStatistics change = new ChangeStatistics();

		private int neurons;

		LayerTotals(String layer) {
			this.layer = layer;
		}

		void add(TensorAudit tensor) {
			this.tensors.add(tensor.name());
			this.change.add(tensor.change);
			if (tensor.isMatrix() && tensor.spectra) {
				this.matrices.add(new PatchAudit.Matrix(tensor.name(), tensor.sigmaBefore, tensor.sigmaAfter));
			}
			if (tensor.hasNeurons()) {
				// Up, gate and down projections index the same neurons: removing a
				// neuron takes any one of them.
				this.neurons = Math.max(this.neurons, tensor.neurons());
				this.removed.addAll(tensor.removed());
			}
		}

		PatchAudit.Layer layer() {
			double base = Math.sqrt(this.change.baseSquares());
			double delta = Math.sqrt(this.change.deltaSquares());
			Double relative = (base > 0) ? Double.valueOf(delta / base) : (delta == 0) ? Double.valueOf(0) : null;
			double sparsity = (this.change.elements() == 0) ? 0 : (double) this.change.zeros() / this.change.elements();
			// Flagged when the patch removes more than the configured fraction of the
			// layer's neurons, the pattern of a pruning attack rather than of
			// fine-tuning.
			boolean flagged = this.neurons > 0
					&& this.removed.size() > PatchAudits.this.properties.removedNeuronFraction() * this.neurons;
			return new PatchAudit.Layer(this.layer, List.copyOf(this.tensors), relative, this.change.maxAbs(), sparsity,
					this.neurons, List.copyOf(this.removed), flagged, List.copyOf(this.matrices));
		}

	}

}
