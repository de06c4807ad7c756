package dev.patchbay.composition;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import dev.patchbay.composition.MergekitMethods.Tuning;
import dev.patchbay.composition.Plan.TensorPlan.Moments;
import dev.patchbay.engine.LowRank;
import dev.patchbay.engine.Workspace;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;

import static dev.patchbay.composition.PlanExecutor.BASE;
import static dev.patchbay.composition.PlanExecutor.FIRST_TERM;
import static dev.patchbay.composition.PlanExecutor.MERGED;

/**
 * One tensor of a curvature-aware composition (METHODS.md §4, implemented from its
 * formulas): OTA weighs each term's task vector τᵢ by its preconditioner
 * {@code ωᵢ = (v̂ᵢ^p·cᵢ + ε)·mᵢ} from the fine-tune's Adam second moments vᵢ, with Fast
 * Fisher Grafting's mask {@code mᵢ = [v̂ᵢ·τᵢ² ≥ tᵢ]} (or {@code [v̂ᵢ ≥ tᵢ]} without a
 * base); {@code ffg} grafts {@code b + m ⊙ τ} alone. Each term's second moments sit in a
 * slot of their own after the term slots. A matrix's v̂ is v, its rank-1 approximation
 * {@code R·Cᵀ/S} (row sums, column sums, total), or {@code relu} of its rank-r
 * truncation; those factors are computed once per tensor, and every chunk is then
 * elementwise, except the hybrid norms of the linear post-merge's rescale, which need the
 * whole (masked) task vector.
 */
final class CurvatureRun {

	/** ota-merge's names of the vocabulary tensors its hybrid norm treats column-wise. */
	private static final List<String> VOCABULARY = List.of("lm_head.weight", "model.embed_tokens.weight");

	private final PlanExecutor.TensorRun run;

	private final Tuning tuning;

	private final String tensor;

	private final List<Long> shape;

	private final int terms;

	// ffg is the standalone grafting method (b + m ⊙ τ, one term); otherwise this is OTA.
	private final boolean ffg;

	/** Per term, whether it changes this tensor. */
	private final boolean[] present;

	/** Per term, v̂'s factors when they are not v itself: B [rows, r], A [r, columns]. */
	private final float[][] factorB;

	private final float[][] factorA;

	// Keeping v̂ as factors costs (rows + columns)·r floats per term instead of a whole
	// tensor; each chunk expands only its own rows.
	private final int[] factorRank;

	/**
	 * Per term, the scale of its v̂^p (cᵢ, or cᵢ/(cᵢ·mean + ε) under normalise=global).
	 */
	private final float[] scales;

	/** Per term, its FFG threshold, NaN for none. */
	private final float[] thresholds;

	/** The linear post-merge's per-term coefficients (1, or the hybrid-norm rescale). */
	private float[] coefficients;

	/** Ties: whether the cuts were selected. */
	private boolean trimmed;

	/**
	 * @param modelThresholds per term, the whole-model FFG threshold the executor found
	 * for {@code ffg_density} (ffg's {@code density}), which overrides
	 * {@code precond_threshold}; NaN for a term without one, null while those thresholds
	 * are being computed
	 */
	CurvatureRun(PlanExecutor.TensorRun run, float[] modelThresholds) {
		this.run = run;
		this.tuning = run.layout.tensor().tuning();
		this.tensor = run.layout.tensor().output().name();
		this.shape = run.layout.tensor().output().shape();
		this.terms = run.terms.size();
		this.ffg = run.method().wireName().equals("ffg");
		this.present = new boolean[this.terms];
		this.factorB = new float[this.terms][];
		this.factorA = new float[this.terms][];
		this.factorRank = new int[this.terms];
		this.scales = new float[this.terms];
		this.thresholds = new float[this.terms];
		for (int i = 0; i < this.terms; i++) {
			this.present[i] = run.terms.get(i) != null;
			// scaling_factor multiplies v̂^p, not τ: under normalise=global it cancels
			// (up to ε), exactly as in ota-merge (fixture ota_normalise_global_scaling).
			this.scales[i] = this.ffg ? 1f : (float) this.tuning.term(i, "scaling_factor");
			double threshold = this.ffg ? Double.NaN : this.tuning.term(i, "precond_threshold");
			if (modelThresholds != null && !Float.isNaN(modelThresholds[i])) {
				threshold = modelThresholds[i];
			}
			this.thresholds[i] = (float) threshold;
		}
	}

	/** The slot of a term's second moments. */
	int momentSlot(int term) {
		// After all term slots, so a term's τ and v̂ are never in the same slot.
		return FIRST_TERM + this.terms + term;
	}

	// ffg's magnitude metric ranks |τ| and needs no second moments at all.
	private boolean magnitude() {
		return this.ffg && this.tuning.global("metric") == 1;
	}

	private Moments moments(int term) {
		List<Moments> moments = this.run.layout.tensor().moments();
		Moments entry = (moments != null) ? moments.get(term) : null;
		// A term that changes this tensor without second moments would silently be
		// weighted by ε alone.
		if (entry == null && this.present[term] && !magnitude()) {
			throw new UnprocessableException(ProblemKind.COMPOSITION_INVALID,
					"terms[" + term + "]: has no second moments for tensor '" + this.tensor + "'",
					Map.of("tensor", this.tensor));
		}
		return entry;
	}

	/**
	 * Computes each term's v̂ factors: rank-1 from uploaded factors, or from v's row and
	 * column sums under {@code rank1_approx}; rank r by a truncated SVD of v.
	 */
	void prepareMoments() throws IOException {
		boolean matrix = this.shape.size() == 2;
		for (int i = 0; i < this.terms; i++) {
			Moments moments = this.present[i] ? moments(i) : null;
			if (moments == null) {
				continue;
			}
			// Moments uploaded as rank-1 factors only (row and column sums) can only be
			// used as rank 1, whatever the recipe says.
			boolean rankOne = moments.full() == null
					|| (matrix && !this.ffg && this.tuning.term(i, "rank1_approx") != 0);
			double rank = this.ffg ? Double.NaN : this.tuning.term(i, "rank");
			if (rankOne) {
				prepareRankOne(i, moments);
			}
			// As ota-merge, the rank-r truncation is not applied to embeddings.
			else if (matrix && !Double.isNaN(rank) && !isVocabulary()) {
				int rows = Math.toIntExact(this.shape.get(0));
				int columns = Math.toIntExact(this.shape.get(1));
				LowRank.Factorization factors = LowRank.factor(moments.full().readAll(), rows, columns, (int) rank, 0,
						LowRank.Split.LEFT);
				this.factorB[i] = factors.b();
				this.factorA[i] = factors.a();
				this.factorRank[i] = factors.rank();
			}
		}
	}

	private boolean isVocabulary() {
		return this.tensor.contains("embed_tokens") || this.tensor.contains("lm_head")
				|| this.tensor.endsWith("wte.weight");
	}

	// v̂ = R·Cᵀ / S: B = R/S as a column, A = C as a row (zeros where S = 0).
	private void prepareRankOne(int term, Moments moments) throws IOException {
		int rows = Math.toIntExact(this.shape.get(0));
		int columns = Math.toIntExact(this.shape.get(1));
		double[] r = new double[rows];
		double[] c = new double[columns];
		// Sums are accumulated in double: a row of thousands of tiny second moments
		// (1e-20 is common) loses digits in float.
		if (moments.full() == null) {
			float[] rowSums = moments.rows().readAll();
			float[] columnSums = moments.columns().readAll();
			for (int i = 0; i < rows; i++) {
				r[i] = rowSums[i];
			}
			for (int j = 0; j < columns; j++) {
				c[j] = columnSums[j];
			}
		}
		else {
			this.run.forEachChunk((workspace, chunk, state) -> {
				int count = this.run.elementsOf(chunk);
				this.run.loadRows(workspace, MERGED, moments.full(), chunk);
				double[] partialRows = new double[rows];
				double[] partialColumns = new double[columns];
				workspace.rowColumnSums(MERGED, count, columns, false, partialRows, this.run.firstRow(chunk),
						partialColumns);
				synchronized (r) {
					for (int i = 0; i < rows; i++) {
						r[i] += partialRows[i];
					}
					for (int j = 0; j < columns; j++) {
						c[j] += partialColumns[j];
					}
				}
			}, (state) -> {
			});
		}
		double total = 0;
		for (double value : r) {
			total += value;
		}
		float[] b = new float[rows];
		float[] a = new float[columns];
		// S = 0 (all second moments zero) gives v̂ = 0, as ota-merge's zeros, instead of
		// 0/0.
		if (total != 0) {
			for (int i = 0; i < rows; i++) {
				b[i] = (float) (r[i] / total);
			}
			for (int j = 0; j < columns; j++) {
				a[j] = (float) c[j];
			}
		}
		this.factorB[term] = b;
		this.factorA[term] = a;
		this.factorRank[term] = 1;
	}

	/** Loads every present term's v̂ for a chunk into its moment slot. */
	void loadMoments(Workspace workspace, int chunk) throws IOException {
		int rows = this.run.rowsOf(chunk);
		int count = this.run.elementsOf(chunk);
		for (int i = 0; i < this.terms; i++) {
			int slot = momentSlot(i);
			if (!this.present[i] || magnitude()) {
				// Zeros: an absent term gets ω = ε·m from here, and the magnitude metric
				// ignores the slot.
				workspace.load(slot, PlanExecutor.NOTHING, DType.F32, 0, count);
			}
			else if (this.factorB[i] != null) {
				int columns = this.run.layout.rowElements();
				workspace.lowRank(slot, this.factorB[i], this.run.firstRow(chunk), rows, this.factorRank[i],
						this.factorA[i], columns, 1f);
				// relu: a truncated SVD of v may dip below zero (rank-1 sums do not).
				workspace.keepAtLeast(slot, slot, 0f, count);
			}
			else {
				this.run.loadRows(workspace, slot, moments(i).full(), chunk);
			}
		}
	}

	/**
	 * Saliency of term i's elements into {@code out}: v̂·τ², v̂ without a base, or |τ|.
	 */
	void saliency(Workspace workspace, int term, int out, int count) {
		workspace.saliency(out, magnitude() ? -1 : momentSlot(term),
				this.run.baseless() ? -1 : this.run.termSlots()[term], count);
	}

	/** Whole-tensor statistics: normalise=global's means, ties' cuts, linear's norms. */
	void prepare() throws IOException {
		prepareMoments();
		if (this.ffg) {
			return;
		}
		long elements = this.run.layout.elements();
		// normalise=global divides each P_i = v̂_i^p·c_i by (mean(P_i) + ε), a mean over
		// the whole tensor, hence a pass of its own.
		if (this.tuning.global("normalise") == 1) {
			double[] sums = new double[this.terms];
			eachChunk((workspace, chunk, count) -> {
				for (int i = 0; i < this.terms; i++) {
					workspace.curvatureWeights(momentSlot(i), -1, power(), 1f, 0f, Float.NaN, count);
					double sum = workspace.l1(momentSlot(i), count);
					synchronized (sums) {
						sums[i] += sum;
					}
				}
			});
			double epsilon = this.tuning.global("epsilon");
			for (int i = 0; i < this.terms; i++) {
				double c = this.scales[i];
				this.scales[i] = (float) (c / (c * sums[i] / elements + epsilon));
			}
		}
		int mode = (int) this.tuning.global("masked_task_vector_merge_method");
		// ties post-merge: trim each τ_i to its int(ties_density·n) largest magnitudes.
		if (mode == 2) {
			long[] k = new long[this.terms];
			Arrays.fill(k, (long) (this.tuning.global("ties_density") * elements));
			this.run.selectCuts(k);
			this.trimmed = true;
		}
		// linear post-merge: b + mean τ̃_i, the mask applied only through the rescale;
		// without rescale ota-merge ignores the mask (fixture
		// ota_linear_no_rescale_ignores_mask).
		if (mode == 1) {
			this.coefficients = new float[this.terms];
			Arrays.fill(this.coefficients, 1f);
			if (this.tuning.flag("rescale")) {
				prepareRescale();
			}
		}
	}

	private float power() {
		return (float) this.tuning.global("power");
	}

	private float epsilon() {
		return (float) this.tuning.global("epsilon");
	}

	/** One chunk's work with τ and v̂ loaded. */
	@FunctionalInterface
	private interface Loaded {

		void run(Workspace workspace, int chunk, int count) throws IOException;

	}

	private void eachChunk(Loaded work) throws IOException {
		boolean[] all = new boolean[this.terms];
		Arrays.fill(all, true);
		this.run.forEachChunk((workspace, chunk, state) -> {
			int count = this.run.elementsOf(chunk);
			if (!this.run.fill(workspace, chunk, all)) {
				this.run.loadBase(workspace, chunk);
			}
			loadMoments(workspace, chunk);
			work.run(workspace, chunk, count);
		}, (state) -> {
		});
	}

	/** Turns each term's moment slot into its curvature weights ω. */
	private void weights(Workspace workspace, int count) {
		for (int i = 0; i < this.terms; i++) {
			workspace.curvatureWeights(momentSlot(i), this.run.baseless() ? -1 : this.run.termSlots()[i], power(),
					this.scales[i], epsilon(), this.present[i] ? this.thresholds[i] : Float.NaN, count);
		}
	}

	// The linear post-merge's rescale: τ̃ᵢ = h(τᵢ)/h(mᵢτᵢ) · mᵢτᵢ with ota-merge's
	// hybrid norm h, zero where the masked norm falls below the relative threshold.
	private void prepareRescale() throws IOException {
		int rows = Math.toIntExact(this.run.layout.rows());
		int columns = this.run.layout.rowElements();
		boolean vocabulary = VOCABULARY.contains(this.tensor) && this.shape.size() == 2;
		boolean matrix = this.shape.size() == 2 && !vocabulary;
		if (this.shape.size() > 2) {
			// No norm for ≥ 3-D tensors: the mask alone.
			return;
		}
		// Pass 0 measures each τ_i, pass 1 the masked m_i τ_i: index pass·N + i.
		double[][] columnSquares = new double[2 * this.terms][columns];
		double[] squares = new double[2 * this.terms];
		// σ_max needs the whole matrix, so this rescale is the one place a curvature run
		// holds 2·N copies of a tensor; it runs only for linear with rescale on.
		float[][] whole = matrix ? new float[2 * this.terms][rows * columns] : null;
		eachChunk((workspace, chunk, count) -> {
			for (int pass = 0; pass < 2; pass++) {
				if (pass == 1) {
					weights(workspace, count);
					for (int i = 0; i < this.terms; i++) {
						// Masked elements have ω = 0 after the threshold; ω > 0 keeps τ
						// there.
						workspace.keepAtLeast(this.run.termSlots()[i], momentSlot(i), Float.MIN_VALUE, count);
					}
				}
				for (int i = 0; i < this.terms; i++) {
					int slot = this.run.termSlots()[i];
					int index = pass * this.terms + i;
					if (matrix) {
						ByteBuffer bytes = workspace.store(slot, -1, count, DType.F32,
								ByteBuffer.allocate(count * 4).order(ByteOrder.LITTLE_ENDIAN), false);
						bytes.order(ByteOrder.LITTLE_ENDIAN)
							.asFloatBuffer()
							.get(whole[index], this.run.firstRow(chunk) * columns, count);
					}
					else if (vocabulary) {
						double[] partial = new double[columns];
						workspace.rowColumnSums(slot, count, columns, true, null, 0, partial);
						synchronized (columnSquares) {
							for (int j = 0; j < columns; j++) {
								columnSquares[index][j] += partial[j];
							}
						}
					}
					else {
						double[] partial = new double[1];
						workspace.gram(new int[] { slot }, count, partial);
						synchronized (squares) {
							squares[index] += partial[0];
						}
					}
				}
			}
		});
		double relative = this.tuning.global("rescale_relative_threshold");
		for (int i = 0; i < this.terms; i++) {
			double[] norms = new double[2];
			for (int pass = 0; pass < 2; pass++) {
				int index = pass * this.terms + i;
				if (matrix) {
					// The rank-1 factor B = u₁σ₁ has norm σ_max: exact, where ota-merge's
					// approximate_norm would use 10 power iterations from a random
					// vector.
					float[] b = LowRank.factor(whole[index], rows, columns, 1, 0, LowRank.Split.LEFT).b();
					double top = 0;
					for (float value : b) {
						top += (double) value * value;
					}
					norms[pass] = Math.sqrt((double) columns / rows) * Math.sqrt(top);
				}
				else if (vocabulary) {
					double top = 0;
					for (double value : columnSquares[index]) {
						top = Math.max(top, value);
					}
					norms[pass] = Math.sqrt(top) / Math.sqrt(rows);
				}
				else {
					norms[pass] = Math.sqrt(squares[index] / this.run.layout.elements());
				}
			}
			// A mask that keeps almost nothing would blow the survivors up; ota-merge
			// zeroes the task vector instead.
			boolean vanishes = norms[1] == 0 || norms[1] < relative * norms[0];
			this.coefficients[i] = vanishes ? 0f : (float) (norms[0] / norms[1]);
		}
	}

	/** Composes one chunk into the MERGED slot, as a delta on the base. */
	void compose(Workspace workspace, int chunk, int count) throws IOException {
		boolean[] all = new boolean[this.terms];
		Arrays.fill(all, true);
		if (!this.run.fill(workspace, chunk, all)) {
			this.run.loadBase(workspace, chunk);
		}
		loadMoments(workspace, chunk);
		// FFG: keep τ where its saliency reaches the threshold, then b + m ⊙ τ.
		if (this.ffg) {
			int slot = this.run.termSlots()[0];
			saliency(workspace, 0, MERGED, count);
			workspace.keepAtLeast(slot, MERGED, this.thresholds[0], count);
			workspace.weightedSum(MERGED, new int[] { slot }, new float[] { 1f }, count);
			return;
		}
		int mode = (int) this.tuning.global("masked_task_vector_merge_method");
		if (this.trimmed) {
			int[] slots = this.run.termSlots();
			for (int i = 0; i < this.terms; i++) {
				if (this.present[i]) {
					this.run.pruneByCut(workspace, i, chunk);
				}
			}
			float[] ones = new float[this.terms];
			Arrays.fill(ones, 1f);
			// Unweighted sign election, then the sum of agreeing values times 1/N:
			// ota-merge's ties divides by all N models, not by the number that agree.
			workspace.consensusMerge(MERGED, slots, ones, false, 1f / this.terms, count);
			return;
		}
		weights(workspace, count);
		int[] moments = new int[this.terms];
		for (int i = 0; i < this.terms; i++) {
			moments[i] = momentSlot(i);
		}
		// As in ota-merge, the fully-masked fallback applies only when a threshold is
		// active: without a mask, tiny second moments alone must not trigger it.
		boolean masked = false;
		for (float threshold : this.thresholds) {
			masked |= !Float.isNaN(threshold);
		}
		// Where every term is masked out (Σω at most 1.1·N·ε), ota-merge falls back.
		float limit = masked ? (float) (1.1 * this.terms * this.tuning.global("epsilon")) : Float.NaN;
		workspace.curvatureMerge(MERGED, this.run.termSlots(), moments, (mode == 1) ? this.coefficients : null,
				mode == 1 && this.tuning.flag("rescale"), limit, this.tuning.flag("fallback_to_base"), count);
	}

}
