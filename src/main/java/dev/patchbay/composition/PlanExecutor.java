package dev.patchbay.composition;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;

import dev.patchbay.composition.Plan.TensorPlan;
import dev.patchbay.engine.CounterRandom;
import dev.patchbay.engine.NonFiniteException;
import dev.patchbay.engine.Quantizer;
import dev.patchbay.engine.TensorEngine;
import dev.patchbay.engine.TopK;
import dev.patchbay.engine.Workspace;
import dev.patchbay.engine.Workspace.SignElection;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.SafetensorsWriter;

/**
 * Executes a plan into a safetensors stream. Each tensor is cut into chunks of rows; the
 * engine's threads compute chunks, each in a workspace of its own, up to a bounded number
 * ahead of the writer, which writes them in order. Memory is bounded by the chunks in
 * flight, never by model size: inputs are mapped once and sliced, and the output is
 * streamed.
 */
final class PlanExecutor {

	/** Receives progress after each tensor. */
	@FunctionalInterface
	interface Progress {

		void tensorDone(int tensorsDone) throws IOException;

	}

	/** Bytes of an untouched tensor handed to the writer at once. */
	// Big enough that a copied tensor costs few writes, small enough that the lookahead
	// of copied slices stays a bounded amount of mapped memory.
	private static final int COPY_BYTES = 64 << 20;

	/**
	 * Chunk size for tensors larger than one chunk when every term is elementwise: 256K
	 * floats (1 MiB per slot) keep a chunk's slots in cache across the merge's passes.
	 * Measured in one benchmark run against 1M-element chunks: TIES 25% faster, bfloat16
	 * sum 18% faster, LoRA 40% slower (more, smaller products), so LoRA keeps the larger
	 * chunks.
	 */
	private static final int ELEMENTWISE_CHUNK_ELEMENTS = 1 << 18;

	/** Slots of every workspace: the base, the merged delta, then one per term. */
	static final int BASE = 0;

	static final int MERGED = 1;

	static final int FIRST_TERM = 2;

	final Plan plan;

	private final TensorEngine engine;

	private final int chunkElements;

	// Term i's delta lives in slot FIRST_TERM + i for the whole execution; MergekitRun
	// and CurvatureRun index their own arrays by the same term order.
	final int[] termSlots;

	/** Whether each tensor is written as its merged delta alone, without the base. */
	private final boolean deltasOnly;

	PlanExecutor(Plan plan, TensorEngine engine, int chunkElements) {
		this(plan, engine, chunkElements, false);
	}

	/**
	 * An executor that writes each tensor's merged delta rather than base plus delta, for
	 * a caller that holds the base already (a sweep); PEFT-dialect methods only.
	 */
	PlanExecutor(Plan plan, TensorEngine engine, int chunkElements, boolean deltasOnly) {
		if (deltasOnly && plan.method() instanceof MergeMethod.Mergekit) {
			throw new IllegalArgumentException("mergekit methods compute whole tensors, not deltas");
		}
		this.deltasOnly = deltasOnly;
		this.plan = plan;
		this.engine = engine;
		this.chunkElements = chunkElements;
		this.termSlots = new int[plan.weights().length];
		for (int term = 0; term < this.termSlots.length; term++) {
			this.termSlots[term] = FIRST_TERM + term;
		}
	}

	/**
	 * Writes the output to a channel, tensor by tensor; everything reported done has been
	 * handed to the channel.
	 * @throws IOException if an input cannot be read or the channel fails; work in flight
	 * is finished or cancelled before this returns
	 */
	void execute(WritableByteChannel out, Progress progress) throws IOException {
		List<Layout> layouts = this.plan.tensors().stream().map(this::layout).toList();
		// Every workspace is sized once for the largest chunk of any tensor, so no slot
		// is reallocated between tensors.
		int capacity = layouts.stream().mapToInt(Layout::chunkCapacity).max().orElse(0);
		try (InputFiles inputs = new InputFiles();
				Workspaces workspaces = new Workspaces(capacity,
						FIRST_TERM + this.termSlots.length * (curvature() ? 2 : 1));
				SafetensorsWriter writer = new SafetensorsWriter(out, this.plan.outputSpecs(), Plan.METADATA);
				Pipeline pipeline = new Pipeline(writer, progress)) {
			// FFG thresholds are quantiles over the whole model, so they are found in
			// passes over every tensor before the first one is written.
			if (curvature()) {
				this.modelThresholds = modelThresholds(layouts, inputs, workspaces);
			}
			for (int index = 0; index < layouts.size(); index++) {
				Layout layout = layouts.get(index);
				// An untouched tensor is copied as stored bytes, never decoded: no term
				// changes it and its dtype stays.
				if (layout.copied()) {
					copy(layout.tensor().base(), inputs, pipeline);
				}
				else {
					new TensorRun(layout, inputs, workspaces).submit(pipeline);
				}
				pipeline.tensorEnds(index + 1);
			}
			// Written only after the last tensor's chunks; closing the writer then checks
			// that every declared byte arrived.
			pipeline.drain();
		}
	}

	/**
	 * Whether the method is curvature-aware (ota, ffg): each term then has a second slot,
	 * for its second moments.
	 */
	boolean curvature() {
		return wholeModel(this.plan.method());
	}

	/**
	 * Whether a method reads the whole model before it writes a tensor (the
	 * curvature-aware ones find their FFG thresholds over every tensor), so that no run
	 * of its tensors can be computed alone.
	 */
	static boolean wholeModel(MergeMethod method) {
		return method instanceof MergeMethod.Mergekit
				&& (method.wireName().equals("ota") || method.wireName().equals("ffg"));
	}

	/**
	 * Per term, the FFG threshold that keeps a whole-model density of its most salient
	 * elements (ota's {@code ffg_density}, ffg's {@code density}), or NaN: the value of
	 * the k-th largest saliency over every tensor the term changes, k = ⌊density·n⌋,
	 * found by radix-select passes over the whole model, tensor by tensor.
	 */
	private float[] modelThresholds(List<Layout> layouts, InputFiles inputs, Workspaces workspaces) throws IOException {
		int terms = this.termSlots.length;
		float[] thresholds = new float[terms];
		Arrays.fill(thresholds, Float.NaN);
		double[] densities = new double[terms];
		Arrays.fill(densities, Double.NaN);
		long[] elements = new long[terms];
		List<Layout> computed = layouts.stream().filter((layout) -> layout.tensor().tuning() != null).toList();
		for (Layout layout : computed) {
			MergekitMethods.Tuning tuning = layout.tensor().tuning();
			for (int term = 0; term < terms; term++) {
				if (layout.tensor().terms().get(term) == null) {
					continue;
				}
				double density = this.plan.method().wireName().equals("ffg") ? tuning.global("density")
						: tuning.term(term, "ffg_density");
				if (Double.isNaN(densities[term])) {
					densities[term] = density;
				}
				elements[term] += layout.elements();
			}
		}
		TopK.Selection[] selections = new TopK.Selection[terms];
		boolean any = false;
		for (int term = 0; term < terms; term++) {
			boolean set = !Double.isNaN(densities[term]);
			any |= set;
			selections[term] = TopK.select(elements[term], set ? (long) (densities[term] * elements[term]) : 0);
		}
		if (!any) {
			return thresholds;
		}
		while (!Arrays.stream(selections).allMatch(TopK.Selection::done)) {
			for (Layout layout : computed) {
				TensorRun run = new TensorRun(layout, inputs, workspaces);
				CurvatureRun curvature = new CurvatureRun(run, null);
				curvature.prepareMoments();
				boolean[] open = new boolean[terms];
				for (int term = 0; term < terms; term++) {
					open[term] = !selections[term].done() && layout.tensor().terms().get(term) != null;
				}
				run.forEachChunk((workspace, chunk, state) -> {
					TopK.Histogram[] histograms = state.histograms(selections);
					int count = run.elementsOf(chunk);
					if (!run.fill(workspace, chunk, open)) {
						run.loadBase(workspace, chunk);
					}
					curvature.loadMoments(workspace, chunk);
					for (int term = 0; term < terms; term++) {
						if (open[term]) {
							curvature.saliency(workspace, term, MERGED, count);
							workspace.histogram(MERGED, count, histograms[term]);
						}
					}
				}, (state) -> state.foldInto(selections));
			}
			for (TopK.Selection selection : selections) {
				if (!selection.done()) {
					selection.endPass();
				}
			}
		}
		for (int term = 0; term < terms; term++) {
			if (!Double.isNaN(densities[term])) {
				TopK.Cut cut = selections[term].cut();
				// Nothing kept: no saliency reaches +∞; all kept: every one reaches 0.
				thresholds[term] = (cut == TopK.Cut.NONE) ? Float.POSITIVE_INFINITY : Float.intBitsToFloat(cut.bits());
			}
		}
		return thresholds;
	}

	/** Per term, the whole-model FFG threshold, or NaN; null until computed. */
	float[] modelThresholds;

	/**
	 * How a tensor is cut into chunks.
	 *
	 * @param copied whether the tensor is copied byte for byte, with no compute
	 */
	record Layout(TensorPlan tensor, long rows, int rowElements, int chunkRows, boolean copied) {

		int chunks() {
			return (int) ((this.rows + this.chunkRows - 1) / this.chunkRows);
		}

		int chunkCapacity() {
			return this.copied ? 0 : this.chunkRows * this.rowElements;
		}

		long elements() {
			return this.rows * this.rowElements;
		}

	}

	Layout layout(TensorPlan tensor) {
		List<Long> shape = tensor.output().shape();
		long rows = TensorRows.rowsOf(shape);
		int rowElements = Math.toIntExact(TensorRows.rowElementsOf(shape));
		// Renamed (a renumbered slice layer) but otherwise as stored: copied as well.
		TensorSpec stored = tensor.base().tensor().spec();
		boolean copied = tensor.untouched() && tensor.output().dtype() == stored.dtype()
				&& tensor.output().shape().equals(stored.shape());
		// One chunk for the whole tensor when a statistic spans rows: a DoRA norm over
		// columns, a vector method on a 1-D tensor, nuslerp along dim 0.
		boolean whole = tensor.terms().stream().anyMatch((term) -> term != null && term.needsWholeTensor())
				|| (perVector(tensor) && shape.size() < 2) || alongDimZero(tensor);
		boolean lowRank = tensor.terms()
			.stream()
			.anyMatch((term) -> term instanceof TermDelta.Lora || term instanceof TermDelta.CpLora
					|| term instanceof TermDelta.LoralibConv);
		long rowsPerChunk = this.chunkElements / Math.max(1, rowElements);
		if (rows > rowsPerChunk && !lowRank) {
			rowsPerChunk = Math.min(rowsPerChunk, ELEMENTWISE_CHUNK_ELEMENTS / Math.max(1, rowElements));
		}
		// Chunks are whole rows: per-row work (a LoRA row, a softmax along the last
		// dimension, a quantization channel) never straddles two chunks.
		long chunkRows = whole ? rows : Math.max(1, Math.min(rows, rowsPerChunk));
		return new Layout(tensor, rows, rowElements, Math.toIntExact(Math.max(1, chunkRows)), copied);
	}

	/**
	 * Whether a mergekit method works on vectors along the last dimension: these lie
	 * inside a chunk of rows, except in a 1-D tensor, which is one vector.
	 */
	private boolean perVector(TensorPlan tensor) {
		if (tensor.tuning() == null) {
			return false;
		}
		return switch (this.plan.method().wireName()) {
			case "nuslerp" -> !tensor.tuning().flag("nuslerp_flatten");
			case "model_stock" -> tensor.tuning().flag("filter_wise");
			// della ranks along dim 1 and arcee_fusion takes a softmax along the last
			// dimension: a 1-D tensor is one vector for both.
			case "della", "della_linear", "arcee_fusion" -> true;
			default -> false;
		};
	}

	/**
	 * Whether a mergekit method works on vectors along dim 0 (nuslerp row-wise): each
	 * spans every row, so the tensor is one chunk.
	 */
	private boolean alongDimZero(TensorPlan tensor) {
		return tensor.tuning() != null && this.plan.method().wireName().equals("nuslerp")
				&& !tensor.tuning().flag("nuslerp_flatten") && tensor.tuning().flag("nuslerp_row_wise");
	}

	// Slices of the mapped input go to the writer in order, through the same lookahead as
	// computed chunks, so a copy is bounded like a compute.
	private static void copy(TensorRows base, InputFiles inputs, Pipeline pipeline) throws IOException {
		long length = base.tensor().spec().byteSize();
		for (long done = 0; done < length; done += COPY_BYTES) {
			int span = (int) Math.min(COPY_BYTES, length - done);
			pipeline.submitReady(inputs.bytes(base.file(), base.tensor().dataOffset() + done, span));
		}
	}

	/**
	 * One tensor's composition: factors read once, cuts selected in parallel passes, then
	 * its chunks handed to the pipeline.
	 */
	final class TensorRun {

		final Layout layout;

		private final InputFiles inputs;

		final Workspaces workspaces;

		final List<TermDelta> terms;

		/** Every term, for a chunk that needs them all. */
		private final boolean[] all;

		/** Per LoRA term, its factors, read once for the whole tensor; else null. */
		private final Factors[] factors;

		/** Per quantized term, its channels' ranges, read once; else null. */
		private final Ranges[] ranges;

		// Per term, the key of its random stream: name and term index, so a DARE mask is
		// the same on every run, thread and chunking of the same recipe.
		final long[] keys;

		/** Per term, its magnitude cut; null unless the method prunes by magnitude. */
		private TopK.Cut[] cuts;

		/** Per term and chunk, how many elements at the cut the chunk keeps. */
		private long[][] keepAtCut;

		TensorRun(Layout layout, InputFiles inputs, Workspaces workspaces) throws IOException {
			this.layout = layout;
			this.inputs = inputs;
			this.workspaces = workspaces;
			this.terms = layout.tensor().terms();
			this.all = new boolean[this.terms.size()];
			Arrays.fill(this.all, true);
			this.factors = new Factors[this.terms.size()];
			this.ranges = new Ranges[this.terms.size()];
			this.keys = new long[this.terms.size()];
			for (int term = 0; term < this.terms.size(); term++) {
				if (this.terms.get(term) instanceof TermDelta.Lora lora) {
					float[] magnitudes = (lora.magnitude() != null) ? inputs.floats(lora.magnitude()) : null;
					this.factors[term] = new Factors(inputs.floats(lora.a()), inputs.floats(lora.b()), magnitudes, null,
							null);
				}
				else if (this.terms.get(term) instanceof TermDelta.CpLora cp) {
					float[] magnitudes = (cp.magnitude() != null) ? inputs.floats(cp.magnitude()) : null;
					this.factors[term] = new Factors(inputs.floats(cp.in()), inputs.floats(cp.out()), magnitudes,
							inputs.floats(cp.kh()), inputs.floats(cp.kw()));
				}
				else if (this.terms.get(term) instanceof TermDelta.LoralibConv loralib) {
					this.factors[term] = new Factors(inputs.floats(loralib.a()), inputs.floats(loralib.b()), null, null,
							null);
				}
				else if (this.terms.get(term) instanceof TermDelta.Quantized quantized) {
					this.ranges[term] = new Ranges(
							inputs.floats(quantized.scales(), quantized.channelOffset(), quantized.channels()),
							inputs.floats(quantized.minimums(), quantized.channelOffset(), quantized.channels()));
				}
				this.keys[term] = CounterRandom.key(layout.tensor().output().name(), term);
			}
		}

		void submit(Pipeline pipeline) throws IOException {
			if (PlanExecutor.this.plan.method() instanceof MergeMethod.Mergekit) {
				// Whole-tensor statistics run on the pool themselves, so the previous
				// tensor's chunks are written out first and the workspaces are free.
				MergekitRun run = new MergekitRun(this);
				pipeline.drain();
				run.prepare();
				for (int chunk = 0; chunk < this.layout.chunks(); chunk++) {
					int index = chunk;
					pipeline.submit(() -> run.compose(index, pipeline.buffer(chunkBytes(index))));
				}
				return;
			}
			// The same for the magnitude cut: its histogram passes use every worker.
			if (PlanExecutor.this.plan.method().pruning() == MergeMethod.Pruning.MAGNITUDE) {
				pipeline.drain();
				selectCuts();
			}
			for (int chunk = 0; chunk < this.layout.chunks(); chunk++) {
				int index = chunk;
				pipeline.submit(() -> compose(index, pipeline.buffer(chunkBytes(index))));
			}
		}

		private int chunkBytes(int chunk) {
			return elementsOf(chunk) * this.layout.tensor().output().dtype().byteSize();
		}

		/** The first row of a chunk. */
		int firstRow(int chunk) {
			return Math.toIntExact((long) chunk * this.layout.chunkRows());
		}

		/** Loads a chunk's rows of a stored tensor of this tensor's shape into a slot. */
		void loadRows(Workspace workspace, int slot, TensorRows tensor, int chunk) throws IOException {
			load(workspace, slot, tensor, chunk);
		}

		int rowsOf(int chunk) {
			return (int) Math.min(this.layout.chunkRows(), this.layout.rows() - (long) chunk * this.layout.chunkRows());
		}

		int elementsOf(int chunk) {
			return rowsOf(chunk) * this.layout.rowElements();
		}

		/**
		 * The top-k cut of every term, by as many parallel passes as the selection needs.
		 */
		private void selectCuts() throws IOException {
			double density = PlanExecutor.this.plan.method().density();
			long[] k = new long[this.terms.size()];
			Arrays.fill(k, (long) (density * this.layout.elements()));
			selectCuts(k);
		}

		/** The top-k cut of every term, each with its own k. */
		void selectCuts(long[] k) throws IOException {
			TopK.Selection[] selections = new TopK.Selection[this.terms.size()];
			for (int term = 0; term < selections.length; term++) {
				// A term that leaves the tensor alone is all zeros: keeping them is moot.
				// TopK selects by histogram passes over the float bits of |τ|, a fixed
				// number per tensor, never sorting the tensor: memory stays at one chunk
				// per worker.
				selections[term] = TopK.select(this.layout.elements(),
						(this.terms.get(term) != null) ? k[term] : Long.MAX_VALUE);
			}
			while (!allDone(selections)) {
				boolean[] open = new boolean[selections.length];
				for (int term = 0; term < selections.length; term++) {
					open[term] = !selections[term].done();
				}
				forEachChunk((workspace, chunk, state) -> {
					TopK.Histogram[] histograms = state.histograms(selections);
					fill(workspace, chunk, open);
					for (int term = 0; term < selections.length; term++) {
						if (!selections[term].done()) {
							workspace.histogram(FIRST_TERM + term, elementsOf(chunk), histograms[term]);
						}
					}
				}, (state) -> state.foldInto(selections));
				for (TopK.Selection selection : selections) {
					if (!selection.done()) {
						selection.endPass();
					}
				}
			}
			this.cuts = new TopK.Cut[selections.length];
			this.keepAtCut = new long[selections.length][];
			boolean splitTies = false;
			for (int term = 0; term < selections.length; term++) {
				this.cuts[term] = selections[term].cut();
				splitTies |= !this.cuts[term].keepsAllTies();
			}
			// Equal magnitudes at the cut are kept up to k exactly, the first ones in
			// index order, so the kept set does not depend on the chunking.
			if (splitTies) {
				countTiesPerChunk();
			}
		}

		/**
		 * Ties at a cut survive in index order, so each chunk needs to know how many
		 * precede it: one more pass counts them per chunk.
		 */
		private void countTiesPerChunk() throws IOException {
			int chunks = this.layout.chunks();
			long[][] atCut = new long[this.cuts.length][chunks];
			boolean[] split = new boolean[this.cuts.length];
			for (int term = 0; term < this.cuts.length; term++) {
				split[term] = !this.cuts[term].keepsAllTies();
			}
			forEachChunk((workspace, chunk, state) -> {
				fill(workspace, chunk, split);
				for (int term = 0; term < this.cuts.length; term++) {
					if (!this.cuts[term].keepsAllTies()) {
						atCut[term][chunk] = workspace.countAt(FIRST_TERM + term, elementsOf(chunk),
								this.cuts[term].bits());
					}
				}
			}, (state) -> {
			});
			for (int term = 0; term < this.cuts.length; term++) {
				if (this.cuts[term].keepsAllTies()) {
					continue;
				}
				this.keepAtCut[term] = new long[chunks];
				long remaining = this.cuts[term].ties();
				for (int chunk = 0; chunk < chunks; chunk++) {
					this.keepAtCut[term][chunk] = Math.min(remaining, atCut[term][chunk]);
					remaining -= this.keepAtCut[term][chunk];
				}
			}
		}

		private static boolean allDone(TopK.Selection[] selections) {
			for (TopK.Selection selection : selections) {
				if (!selection.done()) {
					return false;
				}
			}
			return true;
		}

		MergeMethod method() {
			return PlanExecutor.this.plan.method();
		}

		/**
		 * Per term, the whole-model FFG threshold or NaN, for curvature-aware methods.
		 */
		float[] modelThresholds() {
			return PlanExecutor.this.modelThresholds;
		}

		DType precision() {
			return PlanExecutor.this.plan.precision();
		}

		boolean baseless() {
			return PlanExecutor.this.plan.baseless();
		}

		int[] termSlots() {
			return PlanExecutor.this.termSlots;
		}

		void loadBase(Workspace workspace, int chunk) throws IOException {
			load(workspace, BASE, this.layout.tensor().base(), chunk);
		}

		/** A term's magnitude cut from the last {@link #selectCuts(long[])}. */
		TopK.Cut cut(int term) {
			return this.cuts[term];
		}

		/** How many of a term's elements at its cut a chunk keeps. */
		long keepAtCut(int term, int chunk) {
			return (this.keepAtCut[term] != null) ? this.keepAtCut[term][chunk] : Long.MAX_VALUE;
		}

		/** Prunes a term's slot by its magnitude cut, for one chunk. */
		void pruneByCut(Workspace workspace, int term, int chunk) {
			workspace.pruneMagnitude(FIRST_TERM + term, elementsOf(chunk), this.cuts[term].bits(),
					(this.keepAtCut[term] != null) ? this.keepAtCut[term][chunk] : Long.MAX_VALUE);
		}

		/** Computes one chunk into the buffer. */
		private ByteBuffer compose(int chunk, ByteBuffer target) throws IOException {
			Workspace workspace = this.workspaces.current();
			int count = elementsOf(chunk);
			// The base is read only when a term's delta needs it, or when it is written.
			if (!fill(workspace, chunk, this.all) && !PlanExecutor.this.deltasOnly) {
				load(workspace, BASE, this.layout.tensor().base(), chunk);
			}
			MergeMethod method = PlanExecutor.this.plan.method();
			// DARE's mask is drawn per element from (seed, term key, flat index), so it
			// does not depend on the chunk size or the thread that computes it.
			long first = (long) chunk * this.layout.chunkRows() * this.layout.rowElements();
			for (int term = 0; term < this.terms.size(); term++) {
				int slot = FIRST_TERM + term;
				switch (method.pruning()) {
					case MAGNITUDE -> workspace.pruneMagnitude(slot, count, this.cuts[term].bits(),
							(this.keepAtCut[term] != null) ? this.keepAtCut[term][chunk] : Long.MAX_VALUE);
					case RANDOM ->
						workspace.pruneRandom(slot, count, method.density(), method.seed(), this.keys[term], first);
					case NONE -> {
					}
				}
			}
			float[] weights = PlanExecutor.this.plan.weights();
			if (method.majoritySign() != null) {
				SignElection election = (method.majoritySign() == MergeMethod.MajoritySign.TOTAL) ? SignElection.TOTAL
						: SignElection.FREQUENCY;
				// PEFT's ties: signs elected on the pruned tensors, then the agreeing
				// values averaged.
				workspace.disjointMerge(MERGED, PlanExecutor.this.termSlots, weights, election, count);
			}
			else {
				workspace.weightedSum(MERGED, PlanExecutor.this.termSlots, weights, count);
			}
			if (PlanExecutor.this.deltasOnly) {
				return store(workspace, MERGED, -1, count, target);
			}
			return store(workspace, BASE, MERGED, count, target);
		}

		/** Encodes a chunk, refusing NaN and infinities. */
		ByteBuffer store(Workspace workspace, int slot, int addend, int count, ByteBuffer target) {
			try {
				// slot + addend is formed in float32 and rounded once, to nearest even,
				// to the output dtype; safe_merge refuses NaN and infinities here.
				return workspace.store(slot, addend, count, this.layout.tensor().output().dtype(), target,
						PlanExecutor.this.plan.finite());
			}
			catch (NonFiniteException ex) {
				String name = this.layout.tensor().output().name();
				throw new UnprocessableException(ProblemKind.COMPOSITION_NOT_FINITE,
						"tensor '" + name + "' would hold NaN or an infinity; the composition is refused",
						Map.of("tensor", name));
			}
		}

		/**
		 * Loads the chunk's deltas of the chosen terms, and the base first if any of them
		 * reads it.
		 * @return whether the base was loaded
		 */
		boolean fill(Workspace workspace, int chunk, boolean[] which) throws IOException {
			boolean base = false;
			for (int term = 0; term < this.terms.size(); term++) {
				base |= which[term] && this.terms.get(term) != null && this.terms.get(term).needsBase();
			}
			if (base) {
				load(workspace, BASE, this.layout.tensor().base(), chunk);
			}
			for (int term = 0; term < this.terms.size(); term++) {
				if (which[term]) {
					delta(workspace, term, chunk);
				}
			}
			return base;
		}

		private void delta(Workspace workspace, int term, int chunk) throws IOException {
			int slot = FIRST_TERM + term;
			int rows = rowsOf(chunk);
			long row = (long) chunk * this.layout.chunkRows();
			int count = rows * this.layout.rowElements();
			TermDelta delta = this.terms.get(term);
			if (delta == null) {
				workspace.load(slot, NOTHING, DType.F32, 0, count);
			}
			else if (delta instanceof TermDelta.Stored stored) {
				load(workspace, slot, stored.delta(), chunk);
			}
			// A whole model as a term: its delta is the model minus the base, chunk by
			// chunk.
			else if (delta instanceof TermDelta.Model model) {
				load(workspace, slot, model.model(), chunk);
				workspace.subtract(slot, BASE, count);
			}
			// modules_to_save: the saved tensor replaces the base, as a delta saved −
			// base.
			else if (delta instanceof TermDelta.Replacement replacement) {
				load(workspace, slot, replacement.saved(), chunk);
				workspace.subtract(slot, BASE, count);
			}
			else if (delta instanceof TermDelta.Quantized quantized) {
				Ranges ranges = this.ranges[term];
				long rowElements = TensorRows.rowElementsOf(quantized.shape());
				long elements = TensorRows.rowsOf(quantized.shape()) * rowElements;
				long firstElement = row * rowElements;
				Quantizer quantizer = new Quantizer(quantized.bits());
				// Codes are packed across tensors, so the chunk's codes start inside the
				// shared codes tensor, at the tensor's offset plus its first element's
				// byte.
				long startByte = firstElement * quantized.bits() / 8;
				ByteBuffer packed = this.inputs.bytes(quantized.codes().file(),
						quantized.codes().tensor().dataOffset() + quantized.codeOffset() + startByte,
						Math.toIntExact(quantizer.packedBytes(firstElement + count) - startByte));
				workspace.dequantize(slot, new Quantizer.Codes(quantizer, packed, startByte * 8 / quantized.bits(),
						(quantized.channels() == 1) ? elements : rowElements, ranges.scales(), ranges.minimums()),
						firstElement, count);
			}
			else if (delta instanceof TermDelta.Lora lora) {
				lowRank(workspace, slot, lora, this.factors[term], row, rows);
			}
			else if (delta instanceof TermDelta.CpLora cp) {
				Factors factors = this.factors[term];
				workspace.cpLowRank(slot, factors.b(), Math.toIntExact(row), rows,
						Math.toIntExact(cp.out().rowElements()), factors.a(), Math.toIntExact(cp.in().rows()),
						factors.kh(), Math.toIntExact(cp.kh().rows()), factors.kw(), Math.toIntExact(cp.kw().rows()),
						cp.scale());
				if (factors.magnitudes() != null) {
					workspace.doraRescale(slot, BASE, factors.magnitudes(), Math.toIntExact(row), rows,
							this.layout.rowElements(), true);
				}
			}
			else if (delta instanceof TermDelta.LoraBias bias) {
				// A bias is one short vector: scaled on the host.
				float[] values = this.inputs.floats(bias.bias());
				float[] scaled = new float[count];
				long first = row * this.layout.rowElements();
				for (int i = 0; i < count; i++) {
					scaled[i] = values[Math.toIntExact(first + i)] * bias.scale();
				}
				workspace.load(slot, scaled, count);
			}
			else if (delta instanceof TermDelta.LoralibConv loralib) {
				// Weight rows [row, row + rows) are rows [row·k, (row + rows)·k) of B·A.
				int k = loralib.kernel();
				Factors factors = this.factors[term];
				workspace.lowRank(slot, factors.b(), Math.toIntExact(row * k), rows * k,
						Math.toIntExact(loralib.a().rows()), factors.a(), Math.toIntExact(loralib.a().rowElements()),
						loralib.scale());
			}
		}

		private void lowRank(Workspace workspace, int slot, TermDelta.Lora lora, Factors factors, long row, int rows) {
			int rank = Math.toIntExact(lora.a().rows());
			int inner = Math.toIntExact(lora.a().rowElements());
			int outChannels = Math.toIntExact(lora.b().rows());
			int columns;
			// fan_in_fan_out (GPT-2's Conv1D) stores W as [in, out]: the delta is (B·A)ᵀ,
			// and a chunk's rows are columns of the product.
			if (lora.fanInFanOut()) {
				workspace.lowRankTransposed(slot, factors.b(), outChannels, rank, factors.a(), inner,
						Math.toIntExact(row), rows, lora.scale());
				columns = outChannels;
			}
			else {
				workspace.lowRank(slot, factors.b(), Math.toIntExact(row), rows, rank, factors.a(), inner,
						lora.scale());
				columns = inner;
			}
			if (factors.magnitudes() != null) {
				workspace.doraRescale(slot, BASE, factors.magnitudes(), Math.toIntExact(row), rows, columns,
						!lora.fanInFanOut());
			}
		}

		/** Loads a chunk's rows of a stored tensor, zero past its last row. */
		private void load(Workspace workspace, int slot, TensorRows tensor, int chunk) throws IOException {
			if (slot == BASE && PlanExecutor.this.plan.baseless()) {
				// No base model: the base is zeros, and a model term's delta is the
				// model.
				workspace.load(slot, NOTHING, DType.F32, 0, elementsOf(chunk));
				return;
			}
			long row = (long) chunk * this.layout.chunkRows();
			int rows = rowsOf(chunk);
			// A stored delta or base with fewer rows than the output (a vocabulary grown
			// by fine-tuning) reads as zeros past its end.
			long available = Math.max(0, Math.min(rows, tensor.rows() - row));
			int count = Math.toIntExact(available * tensor.rowElements());
			workspace.load(slot, this.inputs.elements(tensor, row * tensor.rowElements(), count),
					tensor.tensor().spec().dtype(), count, rows * this.layout.rowElements());
			DType precision = PlanExecutor.this.plan.precision();
			if (precision != null && precision != tensor.tensor().spec().dtype()) {
				// mergekit's dtype: inputs are cast to it before the method runs.
				workspace.round(slot, rows * this.layout.rowElements(), precision);
			}
		}

		/**
		 * Runs a pass over every chunk on all threads, each worker with state of its own.
		 */
		void forEachChunk(ChunkWork work, WorkerDone done) throws IOException {
			int chunks = this.layout.chunks();
			AtomicInteger next = new AtomicInteger();
			// Workers pull chunks from a shared counter rather than a fixed split, so a
			// slow chunk does not leave the other threads idle.
			int workers = Math.min(chunks, PlanExecutor.this.engine.threads());
			List<Future<?>> running = new ArrayList<>();
			for (int w = 0; w < workers; w++) {
				running.add(PlanExecutor.this.engine.pool().submit(() -> {
					WorkerState state = new WorkerState();
					Workspace workspace = this.workspaces.current();
					for (int chunk; (chunk = next.getAndIncrement()) < chunks;) {
						work.run(workspace, chunk, state);
					}
					done.accept(state);
					return null;
				}));
			}
			awaitAll(running);
		}

	}

	/**
	 * LoRA factors, read once per tensor; a CP-LoRA's are in (as a), out (as b), kh and
	 * kw.
	 */
	private record Factors(float[] a, float[] b, float[] magnitudes, float[] kh, float[] kw) {
	}

	/** A quantized signature's scales and minima for one tensor's channels. */
	private record Ranges(float[] scales, float[] minimums) {
	}

	/** The stored bytes of a term that leaves a tensor alone: none, so all zeros. */
	static final ByteBuffer NOTHING = ByteBuffer.allocate(0);

	@FunctionalInterface
	interface ChunkWork {

		void run(Workspace workspace, int chunk, WorkerState state) throws IOException;

	}

	@FunctionalInterface
	interface WorkerDone {

		void accept(WorkerState state);

	}

	/** One worker's histograms during a selection pass. */
	static final class WorkerState {

		private TopK.Histogram[] histograms;

		TopK.Histogram[] histograms(TopK.Selection[] selections) {
			if (this.histograms == null) {
				this.histograms = new TopK.Histogram[selections.length];
				for (int term = 0; term < selections.length; term++) {
					if (!selections[term].done()) {
						this.histograms[term] = selections[term].newHistogram();
					}
				}
			}
			return this.histograms;
		}

		void foldInto(TopK.Selection[] selections) {
			if (this.histograms == null) {
				return;
			}
			for (int term = 0; term < selections.length; term++) {
				if (this.histograms[term] != null) {
					selections[term].add(this.histograms[term]);
				}
			}
		}

	}

	/** Waits for every task, then rethrows the first failure. */
	private static void awaitAll(List<Future<?>> tasks) throws IOException {
		Throwable failure = null;
		for (Future<?> task : tasks) {
			try {
				task.get();
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				failure = (failure != null) ? failure : new InterruptedIOException("interrupted while composing");
			}
			catch (ExecutionException ex) {
				failure = (failure != null) ? failure : ex.getCause();
			}
		}
		rethrow(failure);
	}

	private static void rethrow(Throwable failure) throws IOException {
		if (failure instanceof IOException io) {
			throw io;
		}
		if (failure instanceof RuntimeException runtime) {
			throw runtime;
		}
		if (failure instanceof Error error) {
			throw error;
		}
		if (failure != null) {
			throw new IOException(failure);
		}
	}

	/** One workspace per engine thread, for the length of an execution. */
	// A workspace holds native memory and is not thread-safe, so each pool thread gets
	// its own; there are never more than the engine's threads.
	final class Workspaces implements AutoCloseable {

		private final int capacity;

		private final int slots;

		private final Map<Thread, Workspace> byThread = new ConcurrentHashMap<>();

		Workspaces(int capacity, int slots) {
			this.capacity = capacity;
			this.slots = slots;
		}

		Workspace current() {
			return this.byThread.computeIfAbsent(Thread.currentThread(),
					(thread) -> PlanExecutor.this.engine.backend().workspace(this.capacity, this.slots));
		}

		@Override
		public void close() {
			this.byThread.values().forEach(Workspace::close);
		}

	}

	/**
	 * Chunks in flight, oldest first: the writer hands each to the output in order as
	 * soon as it is computed, while the engine's threads compute up to a bounded number
	 * ahead. Closing abandons what has not started and waits for what has, so no
	 * workspace is closed under a running chunk.
	 */
	private final class Pipeline implements AutoCloseable {

		private final SafetensorsWriter writer;

		private final Progress progress;

		private final int lookahead;

		private final ArrayDeque<Entry> pending = new ArrayDeque<>();

		private final LinkedBlockingQueue<ByteBuffer> free = new LinkedBlockingQueue<>();

		private volatile boolean abandoned;

		private record Entry(Future<ByteBuffer> chunk, int tensorsDone, boolean recycle) {
		}

		Pipeline(SafetensorsWriter writer, Progress progress) {
			this.writer = writer;
			this.progress = progress;
			// Twice the threads: every thread has a chunk to compute while the writer
			// waits on the oldest, and the output buffers in flight stay bounded.
			this.lookahead = 2 * PlanExecutor.this.engine.threads();
		}

		/** A buffer of at least the given bytes, for a chunk's output. */
		ByteBuffer buffer(int bytes) {
			// Buffers the writer has written are reused, so a long tensor allocates only
			// the lookahead's worth of direct memory.
			ByteBuffer buffer = this.free.poll();
			return (buffer != null && buffer.capacity() >= bytes) ? buffer : ByteBuffer.allocateDirect(bytes);
		}

		void submit(Callable<ByteBuffer> chunk) throws IOException {
			makeRoom();
			// A chunk that starts after the pipeline was abandoned does nothing.
			this.pending.add(new Entry(
					PlanExecutor.this.engine.pool().submit(() -> this.abandoned ? null : chunk.call()), 0, true));
		}

		/** Queues bytes that need no compute, such as a slice of an untouched tensor. */
		void submitReady(ByteBuffer bytes) throws IOException {
			makeRoom();
			this.pending.add(new Entry(CompletableFuture.completedFuture(bytes), 0, false));
		}

		/**
		 * Marks the end of a tensor: progress is reported once its last chunk is written.
		 */
		void tensorEnds(int tensorsDone) {
			this.pending.add(new Entry(null, tensorsDone, false));
		}

		private void makeRoom() throws IOException {
			while (this.pending.size() >= this.lookahead) {
				writeOldest();
			}
		}

		void drain() throws IOException {
			while (!this.pending.isEmpty()) {
				writeOldest();
			}
		}

		private void writeOldest() throws IOException {
			Entry entry = this.pending.peek();
			if (entry.chunk() == null) {
				this.pending.poll();
				this.progress.tensorDone(entry.tensorsDone());
				return;
			}
			ByteBuffer bytes;
			try {
				bytes = entry.chunk().get();
			}
			catch (InterruptedException ex) {
				Thread.currentThread().interrupt();
				throw new InterruptedIOException("interrupted while composing");
			}
			catch (ExecutionException ex) {
				rethrow(ex.getCause());
				return;
			}
			this.pending.poll();
			this.writer.write(bytes);
			if (entry.recycle()) {
				this.free.offer(bytes);
			}
		}

		@Override
		public void close() {
			this.abandoned = true;
			boolean interrupted = false;
			for (Entry entry : this.pending) {
				while (entry.chunk() != null) {
					try {
						entry.chunk().get();
						break;
					}
					catch (InterruptedException ex) {
						// Keep waiting: a workspace must not close under a running chunk.
						interrupted = true;
					}
					catch (ExecutionException ex) {
						// Only the first failure matters, and it has been thrown already.
						break;
					}
				}
			}
			if (interrupted) {
				Thread.currentThread().interrupt();
			}
		}

	}

}
