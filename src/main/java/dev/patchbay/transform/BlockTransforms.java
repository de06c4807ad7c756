package dev.patchbay.transform;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.IntStream;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

import dev.patchbay.engine.Reshaping;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.transform.Plan.Output;

/**
 * Transforms over a model's stack of blocks ({@code model.layers.{i}.},
 * {@code transformer.h.{i}.}, …): removal with contiguous renumbering
 * (HierarchicalPrune), and TinyCLIP weight inheritance (depth by a block list, width by
 * leading slices, heads cut per head, MLP neurons kept by norm).
 */
final class BlockTransforms {

	/** A block tensor: the stack's prefix, the block index and the rest of the name. */
	// Reluctant prefix: in "model.vision.layers.3.mlp.layers.0.weight" the outermost
	// stack wins, so a nested list inside a block stays part of that block's name.
	private static final Pattern BLOCK = Pattern.compile("^((?:.*?\\.)?(?:layers|layer|h|blocks))\\.(\\d+)\\.(.+)$");

	/** Config keys that count the blocks, by architecture. */
	private static final List<String> LAYER_COUNTS = List.of("num_hidden_layers", "n_layer", "num_layers", "n_layers");

	/** Config lists with one entry per block. */
	// Removing blocks must shorten these lists too, or a loader reads block i's attention
	// type (sliding or full) from the wrong entry.
	private static final List<String> PER_LAYER_LISTS = List.of("layer_types");

	/**
	 * The module a weight belongs to, by role: attention projections (fused q|k|v rows in
	 * that order), and the MLP's up (and gate) and down projections.
	 */
	// Names from the llama/mistral family (q_proj, gate_proj), phi (qkv_proj, fc1), MPT
	// (Wqkv) and CLIP (out_proj, fc1/fc2); a module outside this list keeps only its
	// width slices (the default case of inherit).
	private static final Pattern ROLE = Pattern.compile(
			"(?:^|\\.)(q_proj|k_proj|v_proj|qkv_proj|Wqkv|o_proj|out_proj|gate_proj|up_proj|gate_up_proj|fc1|down_proj|fc2)\\.(weight|bias)$");

	private BlockTransforms() {
	}

	/** The block stack of a model: its prefix and its blocks 0 … count − 1. */
	record Stack(String prefix, int count) {

		/** The name of a block's tensor once its block is renumbered {@code to}. */
		String rename(Matcher block, int to) {
			return this.prefix + "." + to + "." + block.group(3);
		}

	}

	/** The match of a block tensor's name, or null for a tensor outside the stack. */
	static Matcher block(String name) {
		Matcher matcher = BLOCK.matcher(name);
		return matcher.matches() ? matcher : null;
	}

	/**
	 * Finds the one block stack, and refuses a model whose blocks leave a gap (there is
	 * no contiguous renumbering to keep) or that has several stacks.
	 */
	static Stack stack(Sources sources) {
		Set<String> prefixes = new LinkedHashSet<>();
		TreeSet<Integer> indices = new TreeSet<>();
		for (StoredTensor tensor : sources.tensors()) {
			Matcher block = block(tensor.name());
			if (block != null) {
				prefixes.add(block.group(1));
				indices.add(Integer.parseInt(block.group(2)));
			}
		}
		if (prefixes.isEmpty()) {
			throw Transforms.impossible("blocks",
					List.of("the model has no blocks (tensors named like model.layers.{i}.…)"), List.of());
		}
		if (prefixes.size() > 1) {
			throw Transforms.impossible("blocks",
					List.of("the model has several block stacks " + prefixes + "; transforms handle one"), List.of());
		}
		// Blocks are numbered from 0, so a stack starting at 1 is reported as a gap at 0.
		int count = indices.last() + 1;
		List<Integer> missing = IntStream.range(0, count).filter((i) -> !indices.contains(i)).boxed().toList();
		if (!missing.isEmpty()) {
			throw Transforms.impossible("blocks", List
				.of("the model's blocks leave a gap: blocks " + missing + " of 0.." + (count - 1) + " are missing"),
					List.of());
		}
		return new Stack(prefixes.iterator().next(), count);
	}

	/**
	 * Drops blocks and renumbers the rest contiguously, in order; the layer count and
	 * per-layer config lists follow.
	 */
	static Plan dropBlocks(Transform.DropBlocks request, Sources sources, ObjectNode config) {
		List<Integer> drop = request.blocks();
		if (drop == null || drop.isEmpty()) {
			throw Transforms.invalid("blocks", "is required: the indices of the blocks to remove");
		}
		Set<Integer> dropped = new TreeSet<>();
		// A set, not the list, decides what goes, but a repeated index is refused rather
		// than merged: it is most likely a typo for another block.
		for (Integer index : drop) {
			if (index == null || !dropped.add(index)) {
				throw Transforms.invalid("blocks", "names block " + index + " twice or is null");
			}
		}
		Stack stack = stack(sources);
		List<Integer> unknown = dropped.stream().filter((i) -> i < 0 || i >= stack.count()).toList();
		if (!unknown.isEmpty()) {
			throw Transforms.impossible("blocks",
					List.of("blocks " + unknown + " do not exist; the model has blocks 0.." + (stack.count() - 1)),
					List.of());
		}
		List<Integer> kept = IntStream.range(0, stack.count()).filter((i) -> !dropped.contains(i)).boxed().toList();
		if (kept.isEmpty()) {
			throw Transforms.impossible("blocks", List.of("the plan removes every block"), List.of());
		}
		// Kept blocks move down without any tensor changing: only names and the config's
		// layer counts differ.
		List<Output> outputs = renumbered(sources, stack, kept, (tensor) -> null);
		Map<String, Object> report = new LinkedHashMap<>();
		report.put("kind", "drop_blocks");
		report.put("removedBlocks", List.copyOf(dropped));
		report.put("keptBlocks", kept);
		report.put("layers", kept.size());
		return new Plan(outputs, (json) -> updateLayers(json, stack.count(), kept), report);
	}

	/**
	 * The tensors of the kept blocks (renumbered in order) and every tensor outside the
	 * stack, each gathered by {@code keep} (null: copied byte for byte).
	 */
	private static List<Output> renumbered(Sources sources, Stack stack, List<Integer> kept,
			java.util.function.Function<StoredTensor, Gather> keep) {
		// Old block index to new, contiguous in the kept blocks' order.
		Map<Integer, Integer> newIndex = new HashMap<>();
		for (int i = 0; i < kept.size(); i++) {
			newIndex.put(kept.get(i), i);
		}
		List<Output> outputs = new ArrayList<>();
		for (StoredTensor tensor : sources.tensors()) {
			Matcher block = block(tensor.name());
			String name = tensor.name();
			if (block != null) {
				Integer to = newIndex.get(Integer.parseInt(block.group(2)));
				if (to == null) {
					continue;
				}
				name = stack.rename(block, to);
			}
			// Checked here, not only when produced, so an oversized tensor fails the plan
			// before any byte is written.
			Gather gather = keep.apply(tensor);
			Sources.size(tensor);
			if (gather == null) {
				outputs.add(new Output(new TensorSpec(name, tensor.spec().dtype(), tensor.spec().shape()),
						() -> ByteBuffer.wrap(sources.bytes(tensor))));
				continue;
			}
			List<Long> shape = new ArrayList<>();
			for (int d = 0; d < gather.dims().length; d++) {
				shape.add((gather.dims()[d] != null) ? gather.dims()[d].length() : tensor.spec().shape().get(d));
			}
			outputs.add(new Output(new TensorSpec(name, tensor.spec().dtype(), shape), () -> {
				// Resolved inside the producer: MLP neuron indices are only computed when
				// the first tensor of that MLP is written.
				int[][] indices = new int[gather.dims().length][];
				for (int d = 0; d < indices.length; d++) {
					indices[d] = (gather.dims()[d] != null) ? gather.dims()[d].indices() : null;
				}
				return ByteBuffer.wrap(Reshaping.gather(sources.bytes(tensor), tensor.spec().shapeArray(),
						tensor.spec().dtype().byteSize(), indices));
			}));
		}
		return outputs;
	}

	/** Per dimension, the indices to keep (null keeps all). */
	private record Gather(Indices[] dims) {
	}

	/**
	 * Indices of one dimension, known when planned or (MLP neurons, chosen by norm) only
	 * when first needed; the length is always known when planned.
	 */
	private interface Indices {

		long length();

		int[] indices() throws java.io.IOException;

		static Indices of(int[] indices) {
			return new Indices() {
				@Override
				public long length() {
					return indices.length;
				}

				@Override
				public int[] indices() {
					return indices;
				}
			};
		}

	}

	/**
	 * TinyCLIP weight inheritance: the blocks kept (a list, or every k-th), the model
	 * width by its leading slice, attention cut per head (the first key/value heads, and
	 * in each kept group its first query heads, so that every query head keeps its
	 * key/value head), and MLP neurons chosen by norm over up, gate and down together.
	 */
	// Depth comes from one of two selectors; neither keeps every block (width-only
	// inheritance).
	static Plan inherit(Transform.Inherit request, Sources sources, ObjectNode config) {
		if (request.blocks() != null && request.every() != null) {
			throw Transforms.invalid("every", "is exclusive with blocks");
		}
		if (config == null) {
			throw Transforms.impossible("config", List.of("the model has no config.json to read its widths from"),
					List.of());
		}
		int hidden = required(config, "hidden_size");
		int heads = required(config, "num_attention_heads");
		// Configs without num_key_value_heads are plain multi-head attention, and without
		// head_dim the head width is hidden / heads, as transformers assumes.
		int kvHeads = optional(config, "num_key_value_heads", heads);
		int headDim = optional(config, "head_dim", (heads > 0) ? hidden / heads : 0);
		Integer intermediate = config.path("intermediate_size").isIntegralNumber()
				? config.path("intermediate_size").asInt() : null;
		if (heads <= 0 || kvHeads <= 0 || heads % kvHeads != 0 || headDim <= 0) {
			throw Transforms
				.impossible(
						"config", List.of("config.json's heads (" + heads + " query, " + kvHeads
								+ " key/value, head_dim " + headDim + ") do not describe grouped attention"),
						List.of());
		}
		Transform.Widths student = (request.widths() != null) ? request.widths() : Transform.Widths.TEACHER;
		int newHidden = width("config.hidden_size", student.hiddenSize(), hidden);
		int newHeads = width("config.num_attention_heads", student.numAttentionHeads(), heads);
		int newKvHeads = width("config.num_key_value_heads", student.numKeyValueHeads(), kvHeads);
		if (student.intermediateSize() != null && intermediate == null) {
			throw Transforms.impossible("config.intermediate_size",
					List.of("the model's config.json has no intermediate_size"), List.of());
		}
		int newIntermediate = (intermediate != null)
				? width("config.intermediate_size", student.intermediateSize(), intermediate) : 0;
		// The student's groups must fit inside the teacher's: each student key/value head
		// is a teacher head and keeps at most that teacher's query heads.
		if (newHeads % newKvHeads != 0 || newHeads / newKvHeads > heads / kvHeads) {
			throw Transforms.invalid("config.num_attention_heads",
					"must be a multiple of num_key_value_heads with at most " + (heads / kvHeads)
							+ " query heads per key/value head (the teacher's groups)");
		}
		Stack stack = stack(sources);
		List<Integer> kept = keptBlocks(request, stack);

		// Grouped-query attention stores query heads group by group: query head h uses
		// key/value head h / group. Taking the first newGroup query heads of each kept
		// key/value group keeps every query paired with the key/value head it was trained
		// with.
		int group = heads / kvHeads;
		int newGroup = newHeads / newKvHeads;
		List<Integer> queryHeads = new ArrayList<>();
		for (int kv = 0; kv < newKvHeads; kv++) {
			for (int q = 0; q < newGroup; q++) {
				queryHeads.add(kv * group + q);
			}
		}
		int[] queryRows = rowsOf(queryHeads, headDim, 0);
		int[] kvRows = Reshaping.leading(newKvHeads * headDim);
		int[] hiddenLead = Reshaping.leading(newHidden);
		// A fused projection stacks the q, k and v rows in that order; the same cuts
		// apply with k starting after all teacher query rows and v after all key rows.
		int[] qkvRows = concat(queryRows, offset(kvRows, heads * headDim), offset(kvRows, (heads + kvHeads) * headDim));

		// One neuron choice per MLP (keyed by the module's owner prefix), shared by its
		// up, gate and down tensors so that the rows and columns cut stay aligned.
		Map<String, Indices> neurons = new HashMap<>();
		List<String> problems = new ArrayList<>();
		List<String> tensors = new ArrayList<>();
		Map<String, Gather> gathers = new HashMap<>();
		for (StoredTensor tensor : sources.tensors()) {
			Matcher block = block(tensor.name());
			if (block != null && !kept.contains(Integer.parseInt(block.group(2)))) {
				continue;
			}
			List<Long> shape = tensor.spec().shape();
			Matcher role = ROLE.matcher(tensor.name());
			String module = role.find() ? role.group(1) : "";
			// A bias has only the output dimension of its weight, so it takes the first
			// of the weight's cuts.
			boolean weight = module.isEmpty() || role.group(2).equals("weight");
			String owner = module.isEmpty() ? "" : tensor.name().substring(0, role.start(1));
			Indices keepNeurons = (intermediate == null || newIntermediate == intermediate) ? null : neurons
				.computeIfAbsent(owner, (key) -> neuronsByNorm(sources, key, intermediate, newIntermediate));
			// TinyCLIP's width inheritance keeps the leading slice of the model width
			// everywhere, so residual stream channel c of the student is channel c of the
			// teacher.
			Indices lead = Indices.of(hiddenLead);
			long[] expected;
			Indices[] dims;
			switch (module) {
				case "q_proj" -> {
					expected = weight ? new long[] { (long) heads * headDim, hidden }
							: new long[] { (long) heads * headDim };
					dims = weight ? new Indices[] { Indices.of(queryRows), lead }
							: new Indices[] { Indices.of(queryRows) };
				}
				case "k_proj", "v_proj" -> {
					expected = weight ? new long[] { (long) kvHeads * headDim, hidden }
							: new long[] { (long) kvHeads * headDim };
					dims = weight ? new Indices[] { Indices.of(kvRows), lead } : new Indices[] { Indices.of(kvRows) };
				}
				case "qkv_proj", "Wqkv" -> {
					long rows = (long) (heads + 2 * kvHeads) * headDim;
					expected = weight ? new long[] { rows, hidden } : new long[] { rows };
					dims = weight ? new Indices[] { Indices.of(qkvRows), lead } : new Indices[] { Indices.of(qkvRows) };
				}
				// The output projection reads the concatenated heads: its columns follow
				// the query heads kept.
				case "o_proj", "out_proj" -> {
					expected = weight ? new long[] { hidden, (long) heads * headDim } : new long[] { hidden };
					dims = weight ? new Indices[] { lead, Indices.of(queryRows) } : new Indices[] { lead };
				}
				case "gate_proj", "up_proj", "fc1", "gate_up_proj" -> {
					// A fused gate|up projection holds the gate rows, then the up rows:
					// the same neurons are kept in both halves.
					int halves = module.equals("gate_up_proj") ? 2 : 1;
					if (intermediate == null) {
						problems.add("tensor '" + tensor.name()
								+ "' is an MLP projection but config.json has no intermediate_size");
						tensors.add(tensor.name());
						continue;
					}
					expected = weight ? new long[] { (long) halves * intermediate, hidden }
							: new long[] { (long) halves * intermediate };
					Indices rows = (keepNeurons == null) ? null
							: (halves == 1) ? keepNeurons : doubled(keepNeurons, intermediate);
					dims = weight ? new Indices[] { rows, lead } : new Indices[] { rows };
				}
				case "down_proj", "fc2" -> {
					if (intermediate == null) {
						problems.add("tensor '" + tensor.name()
								+ "' is an MLP projection but config.json has no intermediate_size");
						tensors.add(tensor.name());
						continue;
					}
					expected = weight ? new long[] { hidden, intermediate } : new long[] { hidden };
					dims = weight ? new Indices[] { lead, keepNeurons } : new Indices[] { lead };
				}
				default -> {
					// Any other tensor: every dimension of the model width keeps its
					// leading slice (embeddings, norms, lm_head, position tables).
					expected = null;
					dims = new Indices[shape.size()];
					for (int d = 0; d < shape.size(); d++) {
						dims[d] = (shape.get(d) == hidden && newHidden != hidden) ? lead : null;
					}
				}
			}
			// A shape that config.json does not predict means the name's role or the
			// config is wrong for this tensor; gathering by those indices would scramble
			// it.
			if (expected != null && !equal(shape, expected)) {
				problems.add("tensor '" + tensor.name() + "' has shape " + shape + "; config.json implies "
						+ java.util.Arrays.toString(expected));
				tensors.add(tensor.name());
				continue;
			}
			gathers.put(tensor.name(), new Gather(dims));
		}
		if (!problems.isEmpty()) {
			throw Transforms.impossible("config", problems, tensors);
		}
		List<Output> outputs = renumbered(sources, stack, kept, (tensor) -> gathers.get(tensor.name()));
		Map<String, Object> report = new LinkedHashMap<>();
		report.put("kind", "inherit");
		report.put("keptBlocks", kept);
		report.put("layers", kept.size());
		report.put("hidden_size", newHidden);
		if (intermediate != null) {
			report.put("intermediate_size", newIntermediate);
		}
		report.put("num_attention_heads", newHeads);
		report.put("num_key_value_heads", newKvHeads);
		report.put("head_dim", headDim);
		report.put("keptQueryHeads", queryHeads);
		Consumer<ObjectNode> edit = (json) -> {
			// Only the keys the student changes or needs are written; the teacher's other
			// config fields carry over.
			json.put("hidden_size", newHidden);
			if (intermediate != null) {
				json.put("intermediate_size", newIntermediate);
			}
			json.put("num_attention_heads", newHeads);
			// Omitted when the teacher omitted it and the student is still plain
			// multi-head.
			if (json.has("num_key_value_heads") || newKvHeads != newHeads) {
				json.put("num_key_value_heads", newKvHeads);
			}
			// Heads keep their head_dim rows; say so when the width no longer implies it.
			if (json.has("head_dim") || newHidden != newHeads * headDim) {
				json.put("head_dim", headDim);
			}
			updateLayers(json, stack.count(), kept);
		};
		return new Plan(outputs, edit, report);
	}

	/**
	 * The teacher blocks the student keeps: every {@code every}-th from block 0, the
	 * given list (strictly increasing, so the student keeps the teacher's order), or all.
	 */
	private static List<Integer> keptBlocks(Transform.Inherit request, Stack stack) {
		if (request.every() != null) {
			if (request.every() < 1) {
				throw Transforms.invalid("every", "must be at least 1");
			}
			return IntStream.range(0, stack.count()).filter((i) -> i % request.every() == 0).boxed().toList();
		}
		if (request.blocks() == null) {
			return IntStream.range(0, stack.count()).boxed().toList();
		}
		if (request.blocks().isEmpty()) {
			throw Transforms.invalid("blocks", "must name at least one block");
		}
		for (int i = 0; i < request.blocks().size(); i++) {
			Integer index = request.blocks().get(i);
			if (index == null || (i > 0 && index <= request.blocks().get(i - 1))) {
				throw Transforms.invalid("blocks", "must be strictly increasing block indices");
			}
		}
		List<Integer> unknown = request.blocks().stream().filter((i) -> i < 0 || i >= stack.count()).toList();
		if (!unknown.isEmpty()) {
			throw Transforms.impossible("blocks",
					List.of("blocks " + unknown + " do not exist; the model has blocks 0.." + (stack.count() - 1)),
					List.of());
		}
		return List.copyOf(request.blocks());
	}

	/**
	 * The MLP neurons of one module owner with the largest norm: for neuron n, the
	 * squared L2 norms of up row n, gate row n and down column n, summed, over the
	 * teacher's full width.
	 */
	private static Indices neuronsByNorm(Sources sources, String owner, int intermediate, int keep) {
		return new Indices() {

			private int[] chosen;

			@Override
			public long length() {
				return keep;
			}

			@Override
			public int[] indices() throws java.io.IOException {
				// Summed in double over the teacher's full width, one source tensor on
				// the heap at a time; the choice is cached, so the MLP's other tensors
				// reuse it.
				if (this.chosen == null) {
					double[] scores = new double[intermediate];
					for (String module : List.of("gate_proj", "up_proj", "fc1", "gate_up_proj", "down_proj", "fc2")) {
						StoredTensor tensor = sources.byName().get(owner + module + ".weight");
						if (tensor == null) {
							continue;
						}
						float[] values = sources.floats(tensor);
						int rows = Math.toIntExact(tensor.spec().shape().get(0));
						int columns = values.length / rows;
						if (module.equals("down_proj") || module.equals("fc2")) {
							// The down projection's neuron n is its column n.
							Reshaping.addColumnSquares(values, rows, columns, scores);
						}
						else if (module.equals("gate_up_proj")) {
							double[] both = new double[rows];
							Reshaping.addRowSquares(values, rows, columns, both);
							for (int n = 0; n < intermediate; n++) {
								scores[n] += both[n] + both[intermediate + n];
							}
						}
						else {
							Reshaping.addRowSquares(values, rows, columns, scores);
						}
					}
					this.chosen = Reshaping.largest(scores, keep);
				}
				return this.chosen;
			}
		};
	}

	/** The same neurons in both halves of a fused gate|up projection. */
	private static Indices doubled(Indices neurons, int intermediate) {
		return new Indices() {
			@Override
			public long length() {
				return 2 * neurons.length();
			}

			@Override
			public int[] indices() throws java.io.IOException {
				int[] half = neurons.indices();
				return concat(half, offset(half, intermediate));
			}
		};
	}

	/** Sets the layer count and keeps the kept blocks' entries of per-layer lists. */
	static void updateLayers(ObjectNode config, int count, List<Integer> kept) {
		for (String key : LAYER_COUNTS) {
			if (config.path(key).isIntegralNumber()) {
				config.put(key, kept.size());
			}
		}
		for (String key : PER_LAYER_LISTS) {
			JsonNode list = config.path(key);
			if (list instanceof ArrayNode array && array.size() == count) {
				ArrayNode filtered = config.arrayNode();
				kept.forEach((i) -> filtered.add(array.get(i)));
				config.set(key, filtered);
			}
		}
	}

	private static int required(ObjectNode config, String key) {
		if (!config.path(key).isIntegralNumber()) {
			throw Transforms.impossible("config", List.of("the model's config.json has no integer " + key), List.of());
		}
		return config.path(key).asInt();
	}

	private static int optional(ObjectNode config, String key, int fallback) {
		return config.path(key).isIntegralNumber() ? config.path(key).asInt() : fallback;
	}

	/** A student width: the teacher's when not requested, else at most the teacher's. */
	private static int width(String field, Integer requested, int teacher) {
		if (requested == null) {
			return teacher;
		}
		if (requested < 1 || requested > teacher) {
			throw Transforms.invalid(field, "must be between 1 and the teacher's " + teacher);
		}
		return requested;
	}

	/** The headDim consecutive rows of each head, in the heads' order. */
	private static int[] rowsOf(List<Integer> heads, int headDim, int base) {
		int[] rows = new int[heads.size() * headDim];
		for (int h = 0; h < heads.size(); h++) {
			for (int r = 0; r < headDim; r++) {
				rows[h * headDim + r] = base + heads.get(h) * headDim + r;
			}
		}
		return rows;
	}

	private static int[] offset(int[] indices, int by) {
		return IntStream.of(indices).map((i) -> i + by).toArray();
	}

	private static int[] concat(int[]... parts) {
		return java.util.Arrays.stream(parts).flatMapToInt(IntStream::of).toArray();
	}

	private static boolean equal(List<Long> shape, long[] expected) {
		if (shape.size() != expected.length) {
			return false;
		}
		for (int d = 0; d < expected.length; d++) {
			if (shape.get(d) != expected[d]) {
				return false;
			}
		}
		return true;
	}

}
