package dev.patchbay.composition;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;

import dev.patchbay.composition.MergekitMethods.Sparsifier;
import dev.patchbay.composition.MergekitMethods.Spec;
import dev.patchbay.composition.MergekitMethods.Tuning;
import dev.patchbay.engine.TensorData;
import dev.patchbay.engine.TopK;
import dev.patchbay.engine.Workspace;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;

import static dev.patchbay.composition.PlanExecutor.BASE;
import static dev.patchbay.composition.PlanExecutor.FIRST_TERM;
import static dev.patchbay.composition.PlanExecutor.MERGED;

/**
 * One tensor of a mergekit-method composition. Methods that need whole-tensor statistics
 * (norms, dot products, L1 masses, top-k cuts) get them first in parallel passes over the
 * chunks, each worker folding partial sums; every chunk is then an elementwise pass with
 * per-tensor scalars. Vector-wise variants (nuslerp unflattened, model_stock filter_wise)
 * work on the last dimension, which a chunk of rows always holds whole.
 * <p>
 * Every method whose result lies in the span of its inputs (slerp, nuslerp, multislerp,
 * karcher, model_stock, linear) is computed as the Gram matrix of its inputs, scalar
 * algebra on it, and one weighted sum: the same numbers as mergekit's, up to rounding.
 */
final class MergekitRun {

	// The executor's state for this tensor: its layout in chunks, the loaded terms, the
	// workspaces and the shared top-k machinery; this class adds only the method's math.
	private final PlanExecutor.TensorRun run;

	private final Spec spec;

	// Every parameter already evaluated for this tensor (gradients and filters resolved
	// by the planner), so nothing here looks at layer names.
	private final Tuning tuning;

	private final String tensor;

	private final int terms;

	/** Per term, its weight, 0 where the term leaves the tensor alone. */
	private final float[] weights;

	/** Per term, the random sparsifier's L1 rescale. */
	private float[] scales;

	/** The coefficients of the final weighted sum, when the method has one. */
	private float[] coefficients;

	// The workspace slot of each term's delta, in term order.
	private int[] slots;

	/** breadcrumbs: per term, the cut of the magnitudes kept and per chunk its ties. */
	private TopK.Cut[] keepCuts;

	// Elements equal to the cut value are ties; each chunk gets a fixed share of them,
	// handed out in chunk order, so that parallel chunks keep exactly k elements in all.
	private long[][] keepTies;

	/** breadcrumbs: per term, the cut of the top magnitudes dropped, and its ties. */
	private TopK.Cut[] dropCuts;

	private long[][] dropTies;

	/** sce: the cut of the variances kept, and per chunk its ties. */
	private TopK.Cut varianceCut;

	private long[] varianceTies;

	/** arcee_fusion: the importance at or above which a delta is kept. */
	private float threshold;

	// No base model: the terms are models, and span methods combine them as points.
	private final boolean baseless;

	/** For ota and ffg, the curvature-aware tensor run; else null. */
	private final CurvatureRun curvature;

	MergekitRun(PlanExecutor.TensorRun run) {
		this.run = run;
		this.tuning = run.layout.tensor().tuning();
		this.spec = MergekitMethods.SPECS
			.get(run.layout.tensor().tuning() != null ? run.method().wireName() : "linear");
		this.tensor = run.layout.tensor().output().name();
		this.terms = run.terms.size();
		this.baseless = run.baseless();
		this.weights = new float[this.terms];
		for (int i = 0; i < this.terms; i++) {
			boolean present = run.terms.get(i) != null;
			this.weights[i] = (present && this.tuning.terms().get(i).containsKey("weight"))
					? (float) this.tuning.term(i, "weight") : 0f;
		}
		// A slice's tensors may have fewer terms than the plan has slots.
		this.slots = java.util.Arrays.copyOf(run.termSlots(), this.terms);
		// OTA and FFG need each term's second moments beside its delta, which is a run of
		// its own.
		this.curvature = (this.spec.name().equals("ota") || this.spec.name().equals("ffg"))
				? new CurvatureRun(run, run.modelThresholds()) : null;
	}

	/** The whole-tensor statistics the method needs, before any chunk is composed. */
	void prepare() throws IOException {
		switch (this.spec.name()) {
			case "slerp" -> prepareSlerp();
			case "nuslerp" -> {
				if (this.tuning.flag("nuslerp_flatten")) {
					prepareNuslerp();
				}
			}
			case "multislerp" -> prepareMultislerp();
			case "karcher" -> prepareKarcher();
			case "model_stock" -> {
				if (!this.tuning.flag("filter_wise")) {
					prepareModelStock();
				}
			}
			// No guard on Σw = 0 here: validation refuses such a recipe when normalize is
			// on, where mergekit would divide and write inf and NaN.
			case "linear" -> {
				double sum = 0;
				for (float w : this.weights) {
					sum += w;
				}
				this.coefficients = new float[this.terms];
				for (int i = 0; i < this.terms; i++) {
					this.coefficients[i] = this.tuning.flag("normalize") ? (float) (this.weights[i] / sum)
							: this.weights[i];
				}
			}
			case "sce" -> prepareSce();
			case "arcee_fusion" -> prepareFusion();
			case "ota", "ffg" -> this.curvature.prepare();
			default -> {
				if (this.spec.gta()) {
					prepareGta();
				}
			}
		}
	}

	/**
	 * Composes one chunk into {@code target}, in the output dtype; runs on a pool thread,
	 * with the per-tensor scalars {@link #prepare()} left, read-only, in the fields.
	 */
	ByteBuffer compose(int chunk, ByteBuffer target) throws IOException {
		Workspace workspace = this.run.workspaces.current();
		int count = this.run.elementsOf(chunk);
		if (this.curvature != null) {
			this.curvature.compose(workspace, chunk, count);
			return this.run.store(workspace, MERGED, BASE, count, target);
		}
		boolean[] all = new boolean[this.terms];
		java.util.Arrays.fill(all, true);
		if (!this.run.fill(workspace, chunk, all)) {
			// Deltas that read no base leave the base slot unloaded: load it for the
			// output.
			loadBase(workspace, chunk);
		}
		switch (this.spec.name()) {
			case "linear" -> {
				workspace.weightedSum(MERGED, this.slots, this.coefficients, count);
				return this.run.store(workspace, MERGED, BASE, count, target);
			}
			case "passthrough" -> {
				// passthrough: one model, optionally scaled, the base's dtype kept.
				workspace.weightedSum(MERGED, this.slots, new float[] { (float) this.tuning.term(0, "scale") }, count);
				return this.run.store(workspace, MERGED, BASE, count, target);
			}
			case "slerp", "karcher" -> {
				// Points, not deltas: x = τ + b.
				for (int slot : this.slots) {
					workspace.add(slot, BASE, count);
				}
				workspace.weightedSum(MERGED, points(), this.coefficients, count);
				return this.run.store(workspace, MERGED, -1, count, target);
			}
			case "nuslerp" -> {
				if (this.tuning.flag("nuslerp_flatten")) {
					workspace.weightedSum(MERGED, this.slots, this.coefficients, count);
				}
				else if (this.tuning.flag("nuslerp_row_wise")) {
					// Vectors along dim 0 (mergekit transposes dim 0 to the last): the
					// columns of the tensor seen as [d0, rest], the whole tensor in one
					// chunk.
					int columns = Math.toIntExact(this.run.layout.elements() / this.run.layout.rows());
					double[] grams = new double[columns * 4];
					workspace.columnGram(this.slots, count, columns, grams);
					float[] columnCoefficients = new float[columns * 2];
					for (int j = 0; j < columns; j++) {
						float[] c = nuslerpCoefficients(java.util.Arrays.copyOfRange(grams, j * 4, j * 4 + 4));
						columnCoefficients[j * 2] = c[0];
						columnCoefficients[j * 2 + 1] = c[1];
					}
					workspace.columnWeightedSum(MERGED, this.slots, columnCoefficients, count, columns);
				}
				else {
					int length = lastDimension();
					float[] vectorCoefficients = new float[count / length * 2];
					double[] grams = new double[count / length * 4];
					workspace.vectorGram(this.slots, count, length, grams);
					for (int v = 0; v < count / length; v++) {
						float[] c = nuslerpCoefficients(java.util.Arrays.copyOfRange(grams, v * 4, v * 4 + 4));
						vectorCoefficients[v * 2] = c[0];
						vectorCoefficients[v * 2 + 1] = c[1];
					}
					workspace.vectorWeightedSum(MERGED, this.slots, vectorCoefficients, count, length);
				}
				return this.run.store(workspace, MERGED, BASE, count, target);
			}
			case "multislerp" -> {
				workspace.weightedSum(MERGED, this.slots, this.coefficients, count);
				return this.run.store(workspace, MERGED, BASE, count, target);
			}
			case "model_stock" -> {
				if (!this.tuning.flag("filter_wise")) {
					workspace.weightedSum(MERGED, this.slots, this.coefficients, count);
				}
				else {
					int length = lastDimension();
					int n = this.terms;
					int vectors = count / length;
					double[] grams = new double[vectors * n * n];
					workspace.vectorGram(this.slots, count, length, grams);
					float[] vectorCoefficients = new float[vectors * n];
					for (int v = 0; v < vectors; v++) {
						float t = modelStockRatio(java.util.Arrays.copyOfRange(grams, v * n * n, (v + 1) * n * n));
						for (int i = 0; i < n; i++) {
							vectorCoefficients[v * n + i] = t / n;
						}
					}
					workspace.vectorWeightedSum(MERGED, this.slots, vectorCoefficients, count, length);
				}
				return this.run.store(workspace, MERGED, BASE, count, target);
			}
			case "nearswap" -> {
				// In place on the term's slot: per element w = clamp(t / |b − x|, 0, 1)
				// and x' = w x + (1 − w) b, so the store adds nothing more.
				workspace.nearswap(this.slots[0], (float) this.tuning.global("t"), count);
				return this.run.store(workspace, this.slots[0], BASE, count, target);
			}
			case "ram" -> {
				// ram: a delta counts where |τ| > ε; where several count they are
				// averaged, where one counts it is kept whole.
				workspace.ram(MERGED, this.slots, (float) this.tuning.global("epsilon"), count);
				return this.run.store(workspace, MERGED, BASE, count, target);
			}
			case "sce" -> {
				selectByVariance(workspace, chunk, count);
				workspace.sceMerge(MERGED, this.slots, this.coefficients, count);
				return this.run.store(workspace, MERGED, BASE, count, target);
			}
			case "arcee_fusion" -> {
				workspace.fusionImportance(MERGED, this.slots[0], BASE, count, vectorLength(), precision());
				// The delta is kept where its importance reaches the threshold, zeroed
				// elsewhere.
				workspace.keepAtLeast(this.slots[0], MERGED, this.threshold, count);
				if (precision() != DType.F32) {
					// Δ = x − b, computed in the half precision.
					workspace.round(this.slots[0], count, precision());
				}
				return this.run.store(workspace, this.slots[0], BASE, count, target);
			}
			default -> {
				// The GTA family: sparsify each task vector with the cuts and rescales
				// prepared, then combine.
				sparsify(workspace, chunk, count);
				combineGta(workspace, count);
				return this.run.store(workspace, MERGED, BASE, count, target);
			}
		}
	}

	private void loadBase(Workspace workspace, int chunk) throws IOException {
		this.run.loadBase(workspace, chunk);
	}

	private int lastDimension() {
		List<Long> shape = this.run.layout.tensor().output().shape();
		return Math.toIntExact(shape.get(shape.size() - 1));
	}

	/** The slots of the points a span method combines: the terms, then the base. */
	private int[] points() {
		if (this.spec.name().equals("karcher") && !this.baseless) {
			int[] points = java.util.Arrays.copyOf(this.slots, this.terms + 1);
			points[this.terms] = BASE;
			return points;
		}
		if (this.spec.name().equals("slerp")) {
			return new int[] { BASE, this.slots[0] };
		}
		return this.slots;
	}

	/** The Gram matrix of the given slots over the whole tensor, points or deltas. */
	private double[] gram(int[] vectors, boolean asPoints) throws IOException {
		// Accumulated in double across chunks and threads: a norm of a tensor of millions
		// of float32 elements would lose digits in float, and the sum order across chunks
		// then hardly matters.
		int n = vectors.length;
		double[] gram = new double[n * n];
		boolean[] all = new boolean[this.terms];
		java.util.Arrays.fill(all, true);
		this.run.forEachChunk((workspace, chunk, state) -> {
			int count = this.run.elementsOf(chunk);
			if (!this.run.fill(workspace, chunk, all)) {
				loadBase(workspace, chunk);
			}
			if (asPoints) {
				for (int slot : this.slots) {
					workspace.add(slot, BASE, count);
				}
			}
			double[] partial = new double[n * n];
			workspace.gram(vectors, count, partial);
			synchronized (gram) {
				for (int i = 0; i < gram.length; i++) {
					gram[i] += partial[i];
				}
			}
		}, (state) -> {
		});
		return gram;
	}

	// slerp: v0 = base, v1 = the model, on the whole flattened tensor (slerp.py).
	private void prepareSlerp() throws IOException {
		double[] g = gram(points(), true);
		double n0 = Math.sqrt(g[0]);
		double n1 = Math.sqrt(g[3]);
		// As slerp.py: a vector of norm ≤ 1e-8 stays unnormalised, so a zero input gives
		// dot = 0, θ = π/2 and cos(tπ/2)·base rather than a lerp (fixture
		// slerp_zero_model).
		double dot = g[1] / ((n0 > 1e-8) ? n0 : 1) / ((n1 > 1e-8) ? n1 : 1);
		double t = this.tuning.global("t");
		// Colinear and antiparallel inputs alike fall back to the lerp, as in mergekit.
		if (Math.abs(dot) > 0.9995) {
			this.coefficients = new float[] { (float) (1 - t), (float) t };
			return;
		}
		double theta = Math.acos(dot);
		double sin = Math.sin(theta);
		this.coefficients = new float[] { (float) (Math.sin((1 - t) * theta) / sin),
				(float) (Math.sin(t * theta) / sin) };
	}

	// nuslerp: t = w2 / (w1 + w2), slerp of the two task vectors (or models).
	private void prepareNuslerp() throws IOException {
		this.coefficients = nuslerpCoefficients(gram(this.slots, false));
	}

	private float[] nuslerpCoefficients(double[] g) {
		double w1 = this.weights[0];
		double w2 = this.weights[1];
		double t = (Math.abs(w1 + w2) < 1e-6) ? 0.5 : w2 / (w1 + w2);
		// nuslerp clamps the norms at 1e-7 and has no 0.9995 threshold: only a sine below
		// 1e-8 falls back to the lerp, unlike slerp.
		double n0 = Math.max(Math.sqrt(g[0]), 1e-7);
		double n1 = Math.max(Math.sqrt(g[3]), 1e-7);
		double cos = Math.max(-1, Math.min(1, g[1] / (n0 * n1)));
		double theta = Math.acos(cos);
		double sin = Math.sin(theta);
		if (Math.abs(sin) < 1e-8) {
			return new float[] { (float) (1 - t), (float) t };
		}
		return new float[] { (float) (Math.sin((1 - t) * theta) / sin), (float) (Math.sin(t * theta) / sin) };
	}

	// multislerp: the weighted mean of unit task vectors, renormalized to the weighted
	// mean norm. Its tangent T = Σ w_i (u_i − (u_i·m̂) m̂) = m − ‖m‖ m̂ is zero exactly,
	// so the result is m̂ · Σ w_i n_i.
	private void prepareMultislerp() throws IOException {
		double[] g = gram(this.slots, false);
		int n = this.terms;
		// mergekit divides each task vector by (‖X_i‖ + eps), not by its norm; the Gram
		// terms below carry the same eps so the coefficients are mergekit's.
		double eps = this.tuning.global("eps");
		double[] w = new double[n];
		double sum = 0;
		for (int i = 0; i < n; i++) {
			w[i] = this.weights[i];
			sum += w[i];
		}
		double[] norms = new double[n];
		double scale = 0;
		for (int i = 0; i < n; i++) {
			if (this.tuning.flag("normalize_weights")) {
				w[i] /= sum;
			}
			norms[i] = Math.sqrt(g[i * n + i]);
		}
		for (int i = 0; i < n; i++) {
			scale += w[i] * norms[i];
		}
		double mean = 0;
		for (int i = 0; i < n; i++) {
			for (int j = 0; j < n; j++) {
				mean += w[i] * w[j] * g[i * n + j] / ((norms[i] + eps) * (norms[j] + eps));
			}
		}
		mean = Math.sqrt(Math.max(mean, 0));
		this.coefficients = new float[n];
		// Relative guard: the mean of unit vectors is at most 1 long, so 1e-6 means the
		// inputs cancel up to rounding, where mergekit's absolute 1e-8 normalizes noise.
		if (mean < 1e-6) {
			if (n != 2) {
				throw new UnprocessableException(ProblemKind.COMPOSITION_DEGENERATE,
						"terms[].parameters.weight: multislerp's weighted mean of the task vectors of tensor '"
								+ this.tensor + "' is zero (antipodal inputs whose weights balance out)",
						Map.of("tensor", this.tensor, "parameter", "weight"));
			}
			for (int i = 0; i < n; i++) {
				this.coefficients[i] = (float) w[i];
			}
			return;
		}
		for (int i = 0; i < n; i++) {
			this.coefficients[i] = (float) (scale * w[i] / ((norms[i] + eps) * mean));
		}
	}

	// karcher: the Riemannian mean on the sphere, iterated in the span of the unit
	// inputs (u = Σ a_k u_k), then scaled by the mean norm (karcher.py).
	private void prepareKarcher() throws IOException {
		int[] points = points();
		int n = points.length;
		double[] g = gram(points, true);
		double tol = this.tuning.global("tol");
		int iterations = (int) this.tuning.global("max_iter");
		double[] norms = new double[n];
		double[] h = new double[n * n];
		for (int i = 0; i < n; i++) {
			norms[i] = Math.sqrt(g[i * n + i]);
		}
		for (int i = 0; i < n; i++) {
			for (int j = 0; j < n; j++) {
				h[i * n + j] = (norms[i] > 0 && norms[j] > 0) ? g[i * n + j] / (norms[i] * norms[j]) : 0;
			}
		}
		// karcher ignores the terms' weights: every point, the base included when there
		// is one, counts 1/N, as in mergekit.
		double alpha = 1.0 / n;
		int valid = 0;
		for (double norm : norms) {
			valid += (norm > tol) ? 1 : 0;
		}
		this.coefficients = new float[n];
		if (valid == 0) {
			return;
		}
		double[] bar = new double[n];
		for (int i = 0; i < n; i++) {
			bar[i] = (norms[i] > tol) ? 1.0 / valid : 0;
		}
		// The iterate is kept as coefficients a over the unit inputs; its norms and dot
		// products come from the normalized Gram matrix h, so no pass over the data is
		// needed per iteration.
		double[] a = bar.clone();
		double length = Math.sqrt(quadratic(h, a, a));
		if (length < tol) {
			java.util.Arrays.fill(a, 0);
			for (int i = 0; i < n; i++) {
				if (norms[i] > tol) {
					a[i] = 1;
					break;
				}
			}
		}
		else {
			scale(a, 1 / length);
		}
		for (int iteration = 0; iteration < iterations; iteration++) {
			double[] tangent = new double[n];
			for (int i = 0; i < n; i++) {
				if (norms[i] <= tol) {
					continue;
				}
				double c = Math.max(-1, Math.min(1, row(h, i, a)));
				double theta = Math.acos(c);
				if (theta >= tol) {
					double f = bar[i] * theta / Math.sin(theta);
					tangent[i] += f;
					for (int k = 0; k < n; k++) {
						tangent[k] -= f * c * a[k];
					}
				}
			}
			double size = Math.sqrt(Math.max(quadratic(h, tangent, tangent), 0));
			if (size < tol) {
				break;
			}
			for (int k = 0; k < n; k++) {
				a[k] = Math.cos(size) * a[k] + Math.sin(size) * tangent[k] / size;
			}
			scale(a, 1 / Math.sqrt(quadratic(h, a, a)));
		}
		// All N norms count in the scale, zero-norm inputs included: as in mergekit they
		// shrink the result.
		double meanNorm = 0;
		for (double norm : norms) {
			meanNorm += alpha * norm;
		}
		for (int k = 0; k < n; k++) {
			this.coefficients[k] = (norms[k] > 0) ? (float) (meanNorm * a[k] / norms[k]) : 0f;
		}
	}

	private static double quadratic(double[] h, double[] x, double[] y) {
		int n = x.length;
		double sum = 0;
		for (int i = 0; i < n; i++) {
			for (int j = 0; j < n; j++) {
				sum += x[i] * h[i * n + j] * y[j];
			}
		}
		return sum;
	}

	private static double row(double[] h, int i, double[] a) {
		int n = a.length;
		double sum = 0;
		for (int j = 0; j < n; j++) {
			sum += h[i * n + j] * a[j];
		}
		return sum;
	}

	private static void scale(double[] a, double factor) {
		for (int i = 0; i < a.length; i++) {
			a[i] *= factor;
		}
	}

	// model_stock: t = N·cos / (1 + (N − 1)·cos) from the mean pairwise cosine of the
	// task vectors; out = b + t · mean(τ_i).
	private void prepareModelStock() throws IOException {
		float t = modelStockRatio(gram(this.slots, false));
		this.coefficients = new float[this.terms];
		java.util.Arrays.fill(this.coefficients, t / this.terms);
	}

	private float modelStockRatio(double[] g) {
		int n = this.terms;
		double cos = 0;
		int pairs = 0;
		for (int i = 0; i < n; i++) {
			for (int j = i + 1; j < n; j++) {
				// Clamped like model_stock.py, so a zero task vector counts as
				// orthogonal.
				double norms = Math.max(Math.sqrt(g[i * n + i]) * Math.sqrt(g[j * n + j]), 1e-6);
				cos += Math.max(-1, Math.min(1, g[i * n + j] / norms));
				pairs++;
			}
		}
		cos /= pairs;
		double denominator = 1 + (n - 1) * cos;
		// mergekit divides by zero here and writes NaN everywhere (fixture
		// model_stock_antipodal); we refuse the tensor instead.
		if (Math.abs(denominator) < 1e-6) {
			throw new UnprocessableException(ProblemKind.COMPOSITION_DEGENERATE,
					"terms: model_stock's task vectors of tensor '" + this.tensor + "' are antipodal (mean cosine "
							+ cos + " = −1/(N−1)), where its interpolation ratio divides by zero",
					Map.of("tensor", this.tensor, "parameter", "terms"));
		}
		return (float) (n * cos / denominator);
	}

	// The GTA family (generalized_task_arithmetic.py): sparsify each task vector,
	// weight it, then sum or elect signs, normalize, scale by lambda.
	private void prepareGta() throws IOException {
		this.scales = new float[this.terms];
		java.util.Arrays.fill(this.scales, 1f);
		long elements = this.run.layout.elements();
		if (this.spec.sparsifier() == Sparsifier.MAGNITUDE) {
			long[] k = new long[this.terms];
			for (int i = 0; i < this.terms; i++) {
				double density = this.tuning.term(i, "density");
				// int(d·numel), as mergekit; a k of 0 is refused up front by validation,
				// where mergekit's assert would abort the whole merge.
				k[i] = (density >= 1) ? Long.MAX_VALUE : (long) (density * elements);
			}
			this.run.selectCuts(k);
		}
		if (this.spec.sparsifier() == Sparsifier.OUTLIERS) {
			prepareOutliers(elements);
		}
		// mergekit's rescale restores each task vector's L1 mass, not DARE's 1/d: it
		// needs the mass kept by the mask, hence a pass before any chunk is composed.
		if (this.spec.sparsifier() != Sparsifier.NONE && this.tuning.flag("rescale")) {
			rescale();
		}
	}

	// magnitude_outliers keeps the ascending ranks [n_bot, N − n_top): the top N − n_bot
	// magnitudes without the top n_top. mergekit slices [n_bot : −n_top], which is empty
	// when n_top = 0 and drops the whole delta; we keep the intended ranks.
	private void prepareOutliers(long elements) throws IOException {
		long[] keep = new long[this.terms];
		long[] drop = new long[this.terms];
		for (int i = 0; i < this.terms; i++) {
			double density = this.tuning.term(i, "density");
			if (density >= 1) {
				keep[i] = Long.MAX_VALUE;
				continue;
			}
			long target = (long) (density * elements);
			long top = (long) (this.tuning.term(i, "gamma") * elements);
			long bottom = elements - target - top;
			if (bottom < 0) {
				top += bottom;
				bottom = 0;
			}
			keep[i] = elements - bottom;
			drop[i] = top;
		}
		int chunks = this.run.layout.chunks();
		this.keepCuts = new TopK.Cut[this.terms];
		this.keepTies = new long[this.terms][chunks];
		// Two selections: the cut below which magnitudes are dropped, and the cut of the
		// top n_top dropped too; an element is kept between them.
		this.run.selectCuts(keep);
		saveCuts(this.keepCuts, this.keepTies);
		this.dropCuts = new TopK.Cut[this.terms];
		this.dropTies = new long[this.terms][chunks];
		this.run.selectCuts(drop);
		saveCuts(this.dropCuts, this.dropTies);
	}

	private void saveCuts(TopK.Cut[] cuts, long[][] ties) {
		for (int i = 0; i < this.terms; i++) {
			cuts[i] = this.run.cut(i);
			for (int chunk = 0; chunk < ties[i].length; chunk++) {
				ties[i][chunk] = this.run.keepAtCut(i, chunk);
			}
		}
	}

	// L1 mass matching: ‖τ‖₁ / ‖m⊙τ‖₁ per term, the mask drawn again in the pass.
	private void rescale() throws IOException {
		double[] before = new double[this.terms];
		double[] after = new double[this.terms];
		boolean[] all = new boolean[this.terms];
		java.util.Arrays.fill(all, true);
		this.run.forEachChunk((workspace, chunk, state) -> {
			int count = this.run.elementsOf(chunk);
			this.run.fill(workspace, chunk, all);
			for (int i = 0; i < this.terms; i++) {
				double l1 = workspace.l1(this.slots[i], count);
				// The random masks are keyed by seed, term and element index, so this
				// pass draws exactly the mask the compose pass will draw again.
				sparsify(workspace, i, chunk, count, 1f);
				double kept = workspace.l1(this.slots[i], count);
				synchronized (before) {
					before[i] += l1;
					after[i] += kept;
				}
			}
		}, (state) -> {
		});
		for (int i = 0; i < this.terms; i++) {
			// Skipped below 1e-7 as in sparsify.py, so an empty mask does not divide by
			// zero.
			boolean rescaled = before[i] >= 1e-7 && after[i] >= 1e-7;
			this.scales[i] = rescaled ? (float) (before[i] / after[i]) : 1f;
		}
	}

	// sce: with select_topk < 1, only the positions of the largest variance across the
	// task vectors count (the same for every model); each model then weighs by its
	// mean square, and signs are elected on the unweighted task vectors.
	private void prepareSce() throws IOException {
		double topk = this.tuning.global("select_topk");
		long elements = this.run.layout.elements();
		boolean[] all = new boolean[this.terms];
		java.util.Arrays.fill(all, true);
		if (topk < 1) {
			// k counts only the positions of non-zero variance, as count_nonzero does in
			// sce.py.
			long[] zeros = new long[1];
			this.run.forEachChunk((workspace, chunk, state) -> {
				int count = this.run.elementsOf(chunk);
				this.run.fill(workspace, chunk, all);
				workspace.variance(MERGED, this.slots, count);
				long zero = workspace.countAt(MERGED, count, 0);
				synchronized (zeros) {
					zeros[0] += zero;
				}
			}, (state) -> {
			});
			// A k of 0 keeps nothing, so the output is the base (mergekit returns a
			// tensor with an extra model axis there).
			long k = (long) ((elements - zeros[0]) * topk);
			this.varianceCut = scoreCuts(new long[] { k }, (workspace, chunk, count) -> {
				this.run.fill(workspace, chunk, all);
				workspace.variance(MERGED, this.slots, count);
			})[0];
			this.varianceTies = new long[this.run.layout.chunks()];
			java.util.Arrays.fill(this.varianceTies, Long.MAX_VALUE);
			if (!this.varianceCut.keepsAllTies()) {
				long[] atCut = new long[this.varianceTies.length];
				this.run.forEachChunk((workspace, chunk, state) -> {
					int count = this.run.elementsOf(chunk);
					this.run.fill(workspace, chunk, all);
					workspace.variance(MERGED, this.slots, count);
					atCut[chunk] = workspace.countAt(MERGED, count, this.varianceCut.bits());
				}, (state) -> {
				});
				long remaining = this.varianceCut.ties();
				for (int chunk = 0; chunk < atCut.length; chunk++) {
					this.varianceTies[chunk] = Math.min(remaining, atCut[chunk]);
					remaining -= this.varianceTies[chunk];
				}
			}
		}
		// Each model's share is its mean square after the variance mask, one scalar per
		// model per tensor.
		double[] squares = new double[this.terms];
		this.run.forEachChunk((workspace, chunk, state) -> {
			int count = this.run.elementsOf(chunk);
			this.run.fill(workspace, chunk, all);
			selectByVariance(workspace, chunk, count);
			for (int i = 0; i < this.terms; i++) {
				double[] square = new double[1];
				workspace.gram(new int[] { this.slots[i] }, count, square);
				synchronized (squares) {
					squares[i] += square[0];
				}
			}
		}, (state) -> {
		});
		double total = 0;
		for (int i = 0; i < this.terms; i++) {
			total += squares[i] / elements;
		}
		this.coefficients = new float[this.terms];
		for (int i = 0; i < this.terms; i++) {
			// Uniform weights when every task vector is (nearly) zero, as sce.py does.
			this.coefficients[i] = (Math.abs(total) < 1e-6) ? 1f / this.terms : (float) (squares[i] / elements / total);
		}
	}

	/** Masks a chunk's loaded task vectors to the positions of the selected variances. */
	private void selectByVariance(Workspace workspace, int chunk, int count) {
		if (this.varianceCut == null) {
			return;
		}
		workspace.variance(MERGED, this.slots, count);
		workspace.pruneMagnitude(MERGED, count, this.varianceCut.bits(), this.varianceTies[chunk]);
		for (int slot : this.slots) {
			// Kept positions have a positive variance: the cut is above the zeros.
			workspace.keepAtLeast(slot, MERGED, Float.MIN_VALUE, count);
		}
	}

	// arcee_fusion: importance |Δ| · KL(softmax(x) ‖ softmax(b)) per row; deltas whose
	// importance reaches Q(.5) + 1.5 · (Q(.75) − Q(.25)) are kept. Quantiles are exact
	// order statistics, where mergekit samples 1e6 elements of larger tensors.
	private void prepareFusion() throws IOException {
		long n = this.run.layout.elements();
		double[] alphas = { 0.25, 0.5, 0.75 };
		long[] k = new long[alphas.length];
		for (int i = 0; i < alphas.length; i++) {
			// Q(α) = sort(imp)[floor(α(n − 1))] ascending is the (n − floor(α(n − 1)))-th
			// largest, so a top-k cut finds it exactly.
			k[i] = n - (long) Math.floor(alphas[i] * (n - 1));
		}
		boolean[] all = new boolean[this.terms];
		java.util.Arrays.fill(all, true);
		TopK.Cut[] cuts = scoreCuts(k, (workspace, chunk, count) -> {
			if (!this.run.fill(workspace, chunk, all)) {
				loadBase(workspace, chunk);
			}
			workspace.fusionImportance(MERGED, this.slots[0], BASE, count, vectorLength(), precision());
		});
		float q25 = Float.intBitsToFloat(cuts[0].bits());
		float q50 = Float.intBitsToFloat(cuts[1].bits());
		float q75 = Float.intBitsToFloat(cuts[2].bits());
		DType p = precision();
		// Every operation rounded to the compute precision, as torch does in half
		// precision; in float32 the rounding is the identity.
		this.threshold = TensorData.round(q50 + TensorData.round(1.5f * TensorData.round(q75 - q25, p), p), p);
	}

	/** The precision the method computes in: mergekit's dtype, float32 by default. */
	private DType precision() {
		return (this.run.precision() != null) ? this.run.precision() : DType.F32;
	}

	/** The length of the vectors a softmax runs along: the last dimension. */
	private int vectorLength() {
		List<Long> shape = this.run.layout.tensor().output().shape();
		return (shape.size() < 2) ? Math.toIntExact(this.run.layout.elements()) : lastDimension();
	}

	/** Computes a chunk's scores into the MERGED slot. */
	@FunctionalInterface
	private interface Scores {

		void compute(Workspace workspace, int chunk, int count) throws IOException;

	}

	/**
	 * The top-k cuts of a non-negative score, computed per chunk, by as many parallel
	 * passes as the selections need.
	 */
	private TopK.Cut[] scoreCuts(long[] k, Scores scores) throws IOException {
		long n = this.run.layout.elements();
		TopK.Selection[] selections = new TopK.Selection[k.length];
		for (int i = 0; i < k.length; i++) {
			selections[i] = TopK.select(n, k[i]);
		}
		// Each pass narrows every unfinished selection by one histogram of the score's
		// float bits; the scores are recomputed per pass rather than kept, so memory
		// stays at one chunk per worker.
		while (java.util.Arrays.stream(selections).anyMatch((selection) -> !selection.done())) {
			this.run.forEachChunk((workspace, chunk, state) -> {
				TopK.Histogram[] histograms = state.histograms(selections);
				int count = this.run.elementsOf(chunk);
				scores.compute(workspace, chunk, count);
				for (int i = 0; i < selections.length; i++) {
					if (histograms[i] != null) {
						workspace.histogram(MERGED, count, histograms[i]);
					}
				}
			}, (state) -> state.foldInto(selections));
			for (TopK.Selection selection : selections) {
				if (!selection.done()) {
					selection.endPass();
				}
			}
		}
		TopK.Cut[] cuts = new TopK.Cut[k.length];
		for (int i = 0; i < k.length; i++) {
			cuts[i] = selections[i].cut();
		}
		return cuts;
	}

	private long seed() {
		return this.run.method().seed();
	}

	/** The flat index of the chunk's first element: random masks are keyed by it. */
	private long first(int chunk) {
		return (long) chunk * this.run.layout.chunkRows() * this.run.layout.rowElements();
	}

	/** Sparsifies every term's task vector in a chunk, with its L1 rescale. */
	private void sparsify(Workspace workspace, int chunk, int count) {
		for (int i = 0; i < this.terms; i++) {
			sparsify(workspace, i, chunk, count, this.scales[i]);
		}
	}

	/** Sparsifies one term's task vector in a chunk, multiplying the kept elements. */
	private void sparsify(Workspace workspace, int i, int chunk, int count, float scale) {
		double density = this.tuning.term(i, "density");
		// A term absent from this tensor has nothing to sparsify; a density of 1 keeps
		// all.
		if (this.run.terms.get(i) == null || density >= 1) {
			return;
		}
		int slot = this.slots[i];
		switch (this.spec.sparsifier()) {
			case MAGNITUDE -> {
				if (scale == 1f) {
					this.run.pruneByCut(workspace, i, chunk);
				}
				else {
					workspace.pruneOutliers(slot, count, this.run.cut(i).bits(), this.run.keepAtCut(i, chunk),
							TopK.Cut.NONE.bits(), 0, scale);
				}
			}
			case RANDOM -> workspace.maskRandom(slot, count, density, seed(), this.run.keys[i], first(chunk), scale);
			case OUTLIERS -> workspace.pruneOutliers(slot, count, this.keepCuts[i].bits(), this.keepTies[i][chunk],
					this.dropCuts[i].bits(), this.dropTies[i][chunk], scale);
			case DELLA -> {
				if (density <= 0) {
					// d ≤ 0 drops the whole task vector, as della_magprune returns zeros.
					workspace.maskRandom(slot, count, 0, seed(), this.run.keys[i], first(chunk), 0f);
				}
				else {
					int[] ranked = rankedBlock();
					workspace.maskRanked(slot, count, ranked[0], ranked[1], density, this.tuning.term(i, "epsilon"),
							seed(), this.run.keys[i], first(chunk), scale);
				}
			}
			default -> {
			}
		}
	}

	/**
	 * DELLA's ranking blocks: the length of dim 1 and the elements after it (a 1-D tensor
	 * is one row, as mergekit unsqueezes it).
	 */
	private int[] rankedBlock() {
		List<Long> shape = this.run.layout.tensor().output().shape();
		if (shape.size() < 2) {
			return new int[] { Math.toIntExact(this.run.layout.elements()), 1 };
		}
		long inner = 1;
		for (int d = 2; d < shape.size(); d++) {
			inner *= shape.get(d);
		}
		return new int[] { Math.toIntExact(shape.get(1)), Math.toIntExact(inner) };
	}

	/**
	 * Combines the sparsified task vectors: with consensus, mergekit's sign election on
	 * the weighted vectors and division by the agreeing weights; without, the weighted
	 * sum over Σw, left undivided when Σw is (nearly) zero as in mergekit's GTA (contrast
	 * linear).
	 */
	private void combineGta(Workspace workspace, int count) {
		boolean normalize = this.tuning.flag("normalize");
		float lambda = (float) this.tuning.global("lambda");
		if (this.spec.consensus()) {
			workspace.consensusMerge(MERGED, this.slots, this.weights, normalize, lambda, count);
			return;
		}
		double divisor = 0;
		for (float w : this.weights) {
			divisor += w;
		}
		if (!normalize || Math.abs(divisor) < 1e-8) {
			divisor = 1;
		}
		float[] coefficients = new float[this.terms];
		for (int i = 0; i < this.terms; i++) {
			coefficients[i] = (float) (this.weights[i] * lambda / divisor);
		}
		workspace.weightedSum(MERGED, this.slots, coefficients, count);
	}

}
