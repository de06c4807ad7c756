package dev.patchbay.engine;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import dev.patchbay.engine.Workspace.SignElection;
import dev.patchbay.shared.DType;
import dev.patchbay.support.Fixtures;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/**
 * The golden suite every backend passes: PEFT's LoRA, rsLoRA, DoRA and conv merges and
 * {@code peft.utils.merge_utils}, from the fixtures PEFT itself produced, plus the rules
 * the executor relies on (zero padding, ties in index order, DARE's counter stream).
 * Subclasses name the backend.
 */
abstract class TensorBackendContract {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final float TOLERANCE = 1e-5f;

	/** The backend under test; the subclass owns its lifecycle. */
	abstract TensorBackend backend();

	@ParameterizedTest
	@ValueSource(strings = { "lora_llama", "rslora_llama", "lora_cnn_conv", "lora_gpt2_fan_in_fan_out", "dora_llama",
			"dora_cnn_conv" })
	void mergesEveryAdaptedModuleExactlyAsPeftMergeAndUnload(String fixture) {
		Map<String, float[]> base = Fixtures.floats(Fixtures.path(fixture + "/base.safetensors"));
		Map<String, long[]> shapes = Fixtures.shapes(Fixtures.path(fixture + "/base.safetensors"));
		Map<String, float[]> adapter = Fixtures.floats(Fixtures.path(fixture + "/adapter/adapter_model.safetensors"));
		Map<String, long[]> adapterShapes = Fixtures
			.shapes(Fixtures.path(fixture + "/adapter/adapter_model.safetensors"));
		Map<String, float[]> expected = Fixtures.floats(Fixtures.path(fixture + "/expected_merged.safetensors"));
		JsonNode config = JSON.readTree(Fixtures.path(fixture + "/adapter/adapter_config.json").toFile());
		int r = config.get("r").asInt();
		double alpha = config.get("lora_alpha").asDouble();
		float scale = (float) (config.path("use_rslora").asBoolean() ? alpha / Math.sqrt(r) : alpha / r);
		boolean fanInFanOut = config.path("fan_in_fan_out").asBoolean();
		int merged = 0;
		for (String aName : adapter.keySet().stream().filter((name) -> name.endsWith(".lora_A.weight")).toList()) {
			String module = aName.substring("base_model.model.".length(), aName.length() - ".lora_A.weight".length());
			String target = module + ".weight";
			long[] shape = shapes.get(target);
			int rows = (int) shape[0];
			int columns = base.get(target).length / rows;
			float[] a = adapter.get(aName);
			float[] b = adapter.get("base_model.model." + module + ".lora_B.weight");
			float[] magnitudes = adapter.get("base_model.model." + module + ".lora_magnitude_vector");
			int inner = a.length / r;
			try (Workspace workspace = backend().workspace(base.get(target).length, 3)) {
				workspace.load(0, f32(base.get(target)), DType.F32, rows * columns, rows * columns);
				if (fanInFanOut) {
					workspace.lowRankTransposed(1, b, (int) adapterShapes.get(aNameOfB(module))[0], r, a, inner, 0,
							rows, scale);
				}
				else {
					workspace.lowRank(1, b, 0, rows, r, a, inner, scale);
				}
				if (magnitudes != null) {
					workspace.doraRescale(1, 0, magnitudes, 0, rows, columns, !fanInFanOut);
				}
				float[] result = stored(workspace, 0, 1, rows * columns);
				assertClose(result, expected.get(target), target);
				merged++;
			}
		}
		assertThat(merged).as("modules merged").isGreaterThan(1);
	}

	@ParameterizedTest
	@ValueSource(strings = { "cp_lora_r4", "cp_lora_r6_rslora", "cp_dora_r4" })
	void mergesCpDecomposedConvAdaptersExactlyAsTheirReference(String fixture) {
		String dir = "conv_adapters_seed4/";
		Map<String, float[]> base = Fixtures.floats(Fixtures.path(dir + "base.safetensors"));
		Map<String, long[]> shapes = Fixtures.shapes(Fixtures.path(dir + "base.safetensors"));
		Map<String, float[]> adapter = Fixtures
			.floats(Fixtures.path(dir + fixture + "/adapter/adapter_model.safetensors"));
		Map<String, float[]> expected = Fixtures.floats(Fixtures.path(dir + fixture + "/expected_merged.safetensors"));
		JsonNode config = JSON.readTree(Fixtures.path(dir + fixture + "/adapter/adapter_config.json").toFile());
		int r = config.get("r").asInt();
		double alpha = config.get("lora_alpha").asDouble();
		float scale = (float) (config.path("use_rslora").asBoolean() ? alpha / Math.sqrt(r) : alpha / r);
		for (String module : config.get("target_modules").valueStream().map(JsonNode::asString).toList()) {
			String target = module + ".weight";
			long[] shape = shapes.get(target);
			int rows = (int) shape[0];
			int columns = base.get(target).length / rows;
			String prefix = "base_model.model." + module + ".";
			float[] magnitudes = adapter.get(prefix + "lora_magnitude_vector");
			try (Workspace workspace = backend().workspace(rows * columns, 2)) {
				// Two chunks of rows, as the executor cuts them.
				int half = rows / 2;
				float[] result = new float[rows * columns];
				for (int[] chunk : new int[][] { { 0, half }, { half, rows - half } }) {
					workspace.load(0,
							f32(Arrays.copyOfRange(base.get(target), chunk[0] * columns,
									(chunk[0] + chunk[1]) * columns)),
							DType.F32, chunk[1] * columns, chunk[1] * columns);
					workspace.cpLowRank(1, adapter.get(prefix + "lora_cp_out.weight"), chunk[0], chunk[1], r,
							adapter.get(prefix + "lora_cp_in.weight"), (int) shape[1],
							adapter.get(prefix + "lora_cp_kh.weight"), (int) shape[2],
							adapter.get(prefix + "lora_cp_kw.weight"), (int) shape[3], scale);
					if (magnitudes != null) {
						workspace.doraRescale(1, 0, magnitudes, chunk[0], chunk[1], columns, true);
					}
					System.arraycopy(stored(workspace, 0, 1, chunk[1] * columns), 0, result, chunk[0] * columns,
							chunk[1] * columns);
				}
				assertClose(result, expected.get(target), fixture + " " + target);
			}
		}
	}

	private static String aNameOfB(String module) {
		return "base_model.model." + module + ".lora_B.weight";
	}

	@ParameterizedTest
	@ValueSource(strings = { "task_arithmetic", "magnitude_prune", "ties" })
	void reproducesPeftMergeUtils(String method) {
		Map<String, float[]> golden = Fixtures.floats(Fixtures.path("merge_utils_seed1/tensors.safetensors"));
		float[] weights = golden.get("weights");
		int count = golden.get("task_0").length;
		int[] terms = { 2, 3, 4 };
		try (Workspace workspace = backend().workspace(count, 5)) {
			for (int t = 0; t < terms.length; t++) {
				workspace.load(terms[t], f32(golden.get("task_" + t)), DType.F32, count, count);
			}
			if (!method.equals("task_arithmetic")) {
				for (int slot : terms) {
					TopK.Selection selection = TopK.select(count, (long) (0.5 * count));
					while (!selection.done()) {
						TopK.Histogram histogram = selection.newHistogram();
						workspace.histogram(slot, count, histogram);
						selection.add(histogram);
						selection.endPass();
					}
					TopK.Cut cut = selection.cut();
					workspace.pruneMagnitude(slot, count, cut.bits(), cut.keepsAllTies() ? Long.MAX_VALUE : cut.ties());
				}
			}
			if (method.equals("ties")) {
				workspace.disjointMerge(1, terms, weights, SignElection.TOTAL, count);
			}
			else {
				workspace.weightedSum(1, terms, weights, count);
			}
			assertClose(stored(workspace, 1, -1, count), golden.get(method), method);
		}
	}

	@Test
	void frequencySignElectionCountsVotesNotMagnitudes() {
		// Element 0: +10 against -1, -1: "total" elects +, "frequency" elects -.
		int[] terms = { 2, 3, 4 };
		float[] weights = { 1f, 1f, 1f };
		try (Workspace workspace = backend().workspace(1, 5)) {
			loadEach(workspace, terms, 10f, -1f, -1f);
			workspace.disjointMerge(1, terms, weights, SignElection.TOTAL, 1);
			assertThat(stored(workspace, 1, -1, 1)[0]).isEqualTo(10f);
			loadEach(workspace, terms, 10f, -1f, -1f);
			workspace.disjointMerge(1, terms, weights, SignElection.FREQUENCY, 1);
			assertThat(stored(workspace, 1, -1, 1)[0]).as("mean of the two agreeing -1s").isEqualTo(-1f);
		}
	}

	@Test
	void mergekitConsensusElectsSignsOnWeightedDeltasAndDividesByAgreeingWeights() {
		// Element 0: unweighted +1 against -0.5, -0.5 elects +, but weighted 1 · 1
		// against 3 · -0.5 and 3 · -0.5 elects -: mergekit's election is on W = w·τ.
		int[] terms = { 2, 3, 4 };
		float[] weights = { 1f, 3f, 3f };
		try (Workspace workspace = backend().workspace(1, 5)) {
			loadEach(workspace, terms, 1f, -0.5f, -0.5f);
			workspace.consensusMerge(1, terms, weights, true, 1f, 1);
			assertThat(stored(workspace, 1, -1, 1)[0]).as("(-1.5 - 1.5) / (3 + 3)").isEqualTo(-0.5f);
			loadEach(workspace, terms, 1f, -0.5f, -0.5f);
			workspace.consensusMerge(1, terms, weights, false, 2f, 1);
			assertThat(stored(workspace, 1, -1, 1)[0]).as("lambda · plain sum of the agreeing").isEqualTo(-6f);
		}
	}

	@Test
	void gramMatrixAndL1AccumulateInDoublePrecision() {
		try (Workspace workspace = backend().workspace(3, 4)) {
			workspace.load(2, new float[] { 1f, 2f, 3f }, 3);
			workspace.load(3, new float[] { -1f, 0f, 2f }, 3);
			double[] gram = new double[4];
			workspace.gram(new int[] { 2, 3 }, 3, gram);
			workspace.gram(new int[] { 2, 3 }, 3, gram);
			assertThat(gram).containsExactly(28, 10, 10, 10);
			assertThat(workspace.l1(3, 3)).isEqualTo(3);
			double[] grams = new double[3];
			workspace.vectorGram(new int[] { 2 }, 3, 1, grams);
			assertThat(grams).containsExactly(1, 4, 9);
			workspace.vectorWeightedSum(1, new int[] { 2, 3 }, new float[] { 1, 1, 2, 0, 1, -1 }, 3, 1);
			assertThat(stored(workspace, 1, -1, 3)).containsExactly(0f, 4f, 1f);
		}
	}

	@Test
	void auditStatisticsCountChangeNormsAndGramProductsOfAChunk() {
		try (Workspace workspace = backend().workspace(6, 3)) {
			// Base M = [[1, 2, 3], [4, 5, 6]], delta D = [[0, -2, 0], [1, 0, -6]].
			workspace.load(0, new float[] { 1f, 2f, 3f, 4f, 5f, 6f }, 6);
			workspace.load(2, new float[] { 0f, -2f, 0f, 1f, 0f, -6f }, 6);
			ChangeStatistics change = new ChangeStatistics();
			workspace.changeStatistics(2, 0, 6, change);
			assertThat(change.baseSquares()).isEqualTo(91);
			assertThat(change.deltaSquares()).isEqualTo(41);
			assertThat(change.maxAbs()).isEqualTo(6);
			assertThat(change.zeros()).isEqualTo(3);
			assertThat(change.elements()).isEqualTo(6);
			assertThat(change.nonFinite()).isZero();
			double[] rows = new double[3];
			workspace.squaredNorms(0, 2, 3, true, rows, 1);
			assertThat(rows).containsExactly(0, 14, 77);
			double[] columns = new double[3];
			workspace.squaredNorms(0, 2, 3, false, columns, 0);
			workspace.squaredNorms(2, 2, 3, false, columns, 0);
			assertThat(columns).containsExactly(1 + 16 + 1, 4 + 25 + 4, 9 + 36 + 36);
			// Mv = [1·1 + 2·0 + 3·(−1), 4 − 6] = [−2, −2]; Mᵀ(Mv) = −2·[5, 7, 9].
			double[] product = { 1, 1, 1 };
			workspace.gramProduct(0, 2, 3, new float[] { 1f, 0f, -1f }, product);
			assertThat(product[0]).isCloseTo(1 - 10, within(1e-4));
			assertThat(product[1]).isCloseTo(1 - 14, within(1e-4));
			assertThat(product[2]).isCloseTo(1 - 18, within(1e-4));
			workspace.load(1, new float[] { Float.POSITIVE_INFINITY, 0f }, 2);
			ChangeStatistics infinite = new ChangeStatistics();
			workspace.changeStatistics(1, 0, 2, infinite);
			assertThat(infinite.nonFinite()).isEqualTo(1);
			ChangeStatistics folded = new ChangeStatistics();
			folded.add(change);
			folded.add(infinite);
			assertThat(folded.elements()).isEqualTo(8);
			assertThat(folded.zeros()).isEqualTo(4);
		}
	}

	@Test
	void columnStatisticsAndSumsWorkAlongDimZero() {
		// A 2 × 3 matrix per slot: columns are (x[j], x[3 + j]).
		try (Workspace workspace = backend().workspace(6, 4)) {
			workspace.load(2, new float[] { 1, 2, 3, 4, 5, 6 }, 6);
			workspace.load(3, new float[] { 1, 0, -1, 0, 1, 1 }, 6);
			double[] grams = new double[3 * 4];
			workspace.columnGram(new int[] { 2, 3 }, 6, 3, grams);
			// Column 0: (1, 4)·(1, 4) = 17, (1, 4)·(1, 0) = 1, (1, 0)·(1, 0) = 1.
			assertThat(grams).containsExactly(17, 1, 1, 1, 29, 5, 5, 1, 45, 3, 3, 2);
			workspace.columnWeightedSum(1, new int[] { 2, 3 }, new float[] { 1, 0, 0, 1, 2, -1 }, 6, 3);
			assertThat(stored(workspace, 1, -1, 6)).containsExactly(1f, 0f, 7f, 4f, 1f, 11f);
		}
	}

	@Test
	void roundsToHalfPrecisionToNearestEven() {
		try (Workspace workspace = backend().workspace(3, 1)) {
			// 1 + 2⁻⁸ is a tie between two bfloat16 values: it rounds to the even one, 1.
			workspace.load(0, new float[] { 1 + 0x1p-8f, 1 + 0x1p-7f + 0x1p-9f, -3.0f }, 3);
			workspace.round(0, 3, DType.BF16);
			assertThat(stored(workspace, 0, -1, 3)).containsExactly(1f, 1 + 0x1p-7f, -3f);
		}
	}

	@Test
	void nearswapAndRamFollowMergekit() {
		try (Workspace workspace = backend().workspace(3, 5)) {
			workspace.load(2, new float[] { 0.5f, -0.01f, 0f }, 3);
			workspace.nearswap(2, 0.1f, 3);
			// |τ| > t moves by t (weight t/|τ|); |τ| <= t moves all the way.
			assertThat(stored(workspace, 2, -1, 3)).containsExactly(0.1f, -0.01f, 0f);
			workspace.load(2, new float[] { 1f, 1e-6f, 0f }, 3);
			workspace.load(3, new float[] { 3f, 2f, 0f }, 3);
			workspace.ram(1, new int[] { 2, 3 }, 1e-5f, 3);
			assertThat(stored(workspace, 1, -1, 3)).as("shared: mean; alone: as is; none: 0")
				.containsExactly(2f, 2f, 0f);
		}
	}

	@Test
	void breadcrumbsDropsTheLargestAndTheSmallestMagnitudesWithTiesInIndexOrder() {
		float[] values = { 5, -4, 3, -2, 1, 0.5f, -0.25f, 0 };
		try (Workspace workspace = backend().workspace(values.length, 1)) {
			workspace.load(0, values, values.length);
			// Inside the top 6 (cut 0.5), outside the top 2 (cut 4); kept ones doubled.
			workspace.pruneOutliers(0, values.length, Float.floatToRawIntBits(0.5f), Long.MAX_VALUE,
					Float.floatToRawIntBits(4f), Long.MAX_VALUE, 2f);
			assertThat(stored(workspace, 0, -1, values.length)).containsExactly(0, 0, 6, -4, 2, 1, 0, 0);
			workspace.load(0, new float[] { 3, -3, 3, 1, 0.5f }, 5);
			// The first 3 is the one inside the drop cut; the 0.5 is below the keep cut.
			workspace.pruneOutliers(0, 5, Float.floatToRawIntBits(1f), Long.MAX_VALUE, Float.floatToRawIntBits(3f), 1,
					1f);
			assertThat(stored(workspace, 0, -1, 5)).containsExactly(0, -3, 3, 1, 0);
			workspace.load(0, new float[] { 3, 1 }, 2);
			workspace.pruneOutliers(0, 2, TopK.Cut.ALL.bits(), Long.MAX_VALUE, TopK.Cut.NONE.bits(), 0, 1f);
			assertThat(stored(workspace, 0, -1, 2)).as("nothing to drop").containsExactly(3, 1);
		}
	}

	@Test
	void dellaKeepsByMagnitudeRankAlongDimOneWithTheCounterStream() {
		// Two blocks of [3 (dim 1), 2 (inner)]: along dim 1 at each inner position, the
		// smallest magnitude has p = d − ε = 0, the largest p = d + ε = 1, the middle
		// p = d = 0.5, decided by the counter stream at its flat index.
		float[] values = { 1, -6, -3, 5, 2, 4, /* block 2 */ -9, 1, 8, 3, 7, 2 };
		int[] smallest = { 0, 5, 10, 7 };
		int[] largest = { 2, 1, 6, 9 };
		int[] middle = { 4, 3, 8, 11 };
		long key = CounterRandom.key("w", 0);
		try (Workspace workspace = backend().workspace(values.length, 1)) {
			workspace.load(0, values, values.length);
			workspace.maskRanked(0, values.length, 3, 2, 0.5, 0.5, 11, key, 100, 3f);
			float[] masked = stored(workspace, 0, -1, values.length);
			for (int j : smallest) {
				assertThat(masked[j]).as("smallest at %d", j).isZero();
			}
			for (int j : largest) {
				assertThat(masked[j]).as("largest at %d", j).isEqualTo(3 * values[j]);
			}
			for (int j : middle) {
				boolean kept = CounterRandom.uniform(11, key, 100 + j) < 0.5;
				assertThat(masked[j]).as("middle at %d", j).isEqualTo(kept ? 3 * values[j] : 0f);
			}
		}
	}

	@Test
	void sceSelectsByVarianceAndMergesOnUnweightedSigns() {
		int[] terms = { 2, 3 };
		try (Workspace workspace = backend().workspace(3, 4)) {
			workspace.load(2, new float[] { 1, -1, 0 }, 3);
			workspace.load(3, new float[] { 3, 2, 0 }, 3);
			workspace.variance(1, terms, 3);
			assertThat(stored(workspace, 1, -1, 3)).containsExactly(1f, 2.25f, 0f);
			workspace.keepAtLeast(2, 1, 1.5f, 3);
			assertThat(stored(workspace, 2, -1, 3)).containsExactly(0f, -1f, 0f);
			// Unweighted sums 1, -2, 6 elect +, -, +; weighting would elect - at 0.
			workspace.load(2, new float[] { 2, -3, 2 }, 3);
			workspace.load(3, new float[] { -1, 1, 4 }, 3);
			workspace.sceMerge(1, terms, new float[] { 0.25f, 0.75f }, 3);
			assertThat(stored(workspace, 1, -1, 3)).containsExactly(2f, -3f, 3.5f);
			workspace.load(2, new float[] { 1 }, 1);
			workspace.load(3, new float[] { 1 }, 1);
			workspace.sceMerge(1, terms, new float[] { 0f, 0f }, 1);
			assertThat(stored(workspace, 1, -1, 1)).as("divisor clamped at 1e-6").containsExactly(0f);
		}
	}

	@Test
	void arceeFusionImportanceIsTheDeltaTimesTheRowsSoftmaxDivergence() {
		float ln3 = (float) Math.log(3);
		try (Workspace workspace = backend().workspace(6, 3)) {
			workspace.load(0, new float[] { 0, 0, 1, 2, 0, 0 }, 6);
			// Row 1: a shift of the base leaves the softmax alone: no divergence.
			workspace.load(2, new float[] { 0, 0, 5, 5, ln3, 0 }, 6);
			workspace.fusionImportance(1, 2, 0, 6, 2);
			double kl = 0.75 * Math.log(1.5) + 0.25 * Math.log(0.5);
			assertClose(stored(workspace, 1, -1, 6), new float[] { 0, 0, 0, 0, (float) (ln3 * kl), 0 }, "importance");
		}
	}

	@Test
	void mergekitRandomMaskIsDareStreamWithAGivenScale() {
		int n = 200;
		long key = CounterRandom.key("w", 1);
		float[] ones = new float[n];
		Arrays.fill(ones, 1f);
		try (Workspace workspace = backend().workspace(n, 4)) {
			workspace.load(2, ones, n);
			workspace.maskRandom(2, n, 0.3, 7, key, 0, 5f);
			workspace.load(3, ones, n);
			workspace.pruneRandom(3, n, 0.3, 7, key, 0);
			float[] masked = stored(workspace, 2, -1, n);
			float[] dare = stored(workspace, 3, -1, n);
			for (int i = 0; i < n; i++) {
				assertThat(masked[i] != 0).as("same mask at %d", i).isEqualTo(dare[i] != 0);
				assertThat(masked[i]).isIn(0f, 5f);
			}
		}
	}

	@Test
	void dareMaskDependsOnSeedKeyAndIndexButNotOnChunking() {
		int n = 1000;
		long key = CounterRandom.key("w", 0);
		float[] ones = new float[n];
		Arrays.fill(ones, 1f);
		try (Workspace workspace = backend().workspace(n, 1)) {
			workspace.load(0, ones, n);
			workspace.pruneRandom(0, n, 0.3, 5, key, 0);
			float[] whole = stored(workspace, 0, -1, n);
			float[] chunked = new float[n];
			for (int start = 0; start < n; start += 300) {
				int count = Math.min(300, n - start);
				workspace.load(0, ones, count);
				workspace.pruneRandom(0, count, 0.3, 5, key, start);
				System.arraycopy(stored(workspace, 0, -1, count), 0, chunked, start, count);
			}
			assertThat(chunked).isEqualTo(whole);
			workspace.load(0, ones, n);
			workspace.pruneRandom(0, n, 0.3, 5, CounterRandom.key("v", 0), 0);
			assertThat(stored(workspace, 0, -1, n)).isNotEqualTo(whole);
			long kept = 0;
			for (int i = 0; i < n; i++) {
				if (whole[i] != 0) {
					kept++;
					assertThat(whole[i]).isEqualTo(1f / 0.3f);
				}
				assertThat(whole[i] != 0).isEqualTo(CounterRandom.uniform(5, key, i) < 0.3);
			}
			assertThat(kept).isBetween(250L, 350L);
		}
	}

	@Test
	void magnitudePruningKeepsTheFirstTiesAtTheCutInIndexOrder() {
		float[] values = { 5, -3, 3, 3, -3, 1, 0 };
		try (Workspace workspace = backend().workspace(values.length, 1)) {
			workspace.load(0, values, values.length);
			assertThat(workspace.countAt(0, values.length, Float.floatToRawIntBits(3f))).isEqualTo(4);
			workspace.pruneMagnitude(0, values.length, Float.floatToRawIntBits(3f), 2);
			assertThat(stored(workspace, 0, -1, values.length)).containsExactly(5, -3, 3, 0, 0, 0, 0);
			workspace.load(0, values, values.length);
			workspace.pruneMagnitude(0, values.length, TopK.Cut.NONE.bits(), Long.MAX_VALUE);
			assertThat(stored(workspace, 0, -1, values.length)).containsOnly(0f);
		}
	}

	@Test
	void loadsStoredDtypesAndZeroesRowsPastTheEnd() {
		float[] values = { 1.5f, -2.25f, 3f };
		try (Workspace workspace = backend().workspace(5, 1)) {
			for (DType dtype : new DType[] { DType.F32, DType.F16, DType.BF16, DType.F64 }) {
				workspace.load(0, TensorData.encode(values, 3, dtype), dtype, 3, 5);
				assertThat(stored(workspace, 0, -1, 5)).as(dtype.name()).containsExactly(1.5f, -2.25f, 3f, 0f, 0f);
			}
		}
	}

	@Test
	void storesTheSumNarrowedToNearestEven() {
		// 1 + 2^-8 + 2^-9 lies above the midpoint between bfloat16 neighbours; 1 + 2^-8
		// is exactly between 1 and 1 + 2^-7 and rounds to the even one, 1.
		float[] base = { 1f, 1f };
		float[] delta = { 0x1p-8f + 0x1p-9f, 0x1p-8f };
		try (Workspace workspace = backend().workspace(2, 2)) {
			workspace.load(0, base, 2);
			workspace.load(1, delta, 2);
			ByteBuffer out = workspace.store(0, 1, 2, DType.BF16, ByteBuffer.allocate(8), true)
				.order(ByteOrder.LITTLE_ENDIAN);
			assertThat(out.remaining()).isEqualTo(4);
			assertThat(out.getShort(0)).isEqualTo((short) 0x3F81);
			assertThat(out.getShort(2)).isEqualTo((short) 0x3F80);
		}
	}

	@Test
	void dequantizesCodesAgainstTheirChannelsRanges() {
		Random random = new Random(3);
		int rows = 4;
		int columns = 6;
		float[] values = new float[rows * columns];
		for (int i = 0; i < values.length; i++) {
			values[i] = (float) random.nextGaussian();
		}
		Quantizer quantizer = new Quantizer(4);
		float[] scales = new float[rows];
		float[] minimums = new float[rows];
		byte[] packed = quantizer.encode(values, rows, scales, minimums, DType.F16);
		try (Workspace workspace = backend().workspace(values.length, 1)) {
			// Rows 1..3 only, from the byte holding element 6's code on.
			workspace.dequantize(0, new Quantizer.Codes(quantizer,
					ByteBuffer.wrap(packed, 3, packed.length - 3).slice(), columns, columns, scales, minimums), columns,
					3 * columns);
			float[] decoded = stored(workspace, 0, -1, 3 * columns);
			for (int i = 0; i < decoded.length; i++) {
				int row = 1 + i / columns;
				assertThat(decoded[i]).isCloseTo(values[columns + i], within(scales[row] / 2 + 1e-6f));
			}
		}
	}

	@Test
	void refusesToStoreNaNOrInfinityWhenAskedToStoreOnlyFiniteValues() {
		float[] big = { 3e38f, 1f, 2f };
		try (Workspace workspace = backend().workspace(3, 2)) {
			for (float bad : new float[] { Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY }) {
				workspace.load(0, new float[] { 1f, bad, 2f }, 3);
				assertThatThrownBy(() -> workspace.store(0, -1, 3, DType.F32, ByteBuffer.allocate(12), true))
					.as("%s", bad)
					.isInstanceOf(NonFiniteException.class);
			}
			// Finite inputs whose sum overflows float32 are refused too.
			workspace.load(0, big, 3);
			workspace.load(1, big, 3);
			assertThatThrownBy(() -> workspace.store(0, 1, 3, DType.F32, ByteBuffer.allocate(12), true))
				.isInstanceOf(NonFiniteException.class);
			workspace.load(0, new float[] { -0f, Float.MAX_VALUE, Float.MIN_VALUE }, 3);
			assertThat(stored(workspace, 0, -1, 3)).containsExactly(-0f, Float.MAX_VALUE, Float.MIN_VALUE);
			workspace.load(0, new float[] { -0f, Float.MAX_VALUE, Float.MIN_VALUE }, 3);
			workspace.store(0, -1, 3, DType.F32, ByteBuffer.allocate(12), true);
		}
	}

	@Test
	void curvatureWeightsArePreconditionedMomentsUnderTheFisherMask() {
		try (Workspace workspace = backend().workspace(4, 4)) {
			workspace.load(2, new float[] { 4, 9, 0, 1 }, 4);
			workspace.load(3, new float[] { 1, 0.1f, 2, 3 }, 4);
			// Saliencies v·δ² = 4, 0.09, 0, 9 against 1: ω = (√v·2 + 0.5) where kept.
			workspace.saliency(1, 2, 3, 4);
			assertClose(stored(workspace, 1, -1, 4), new float[] { 4, 0.09f, 0, 9 }, "saliency");
			workspace.saliency(1, -1, 3, 4);
			assertClose(stored(workspace, 1, -1, 4), new float[] { 1, 0.1f, 2, 3 }, "magnitude");
			workspace.curvatureWeights(2, 3, 0.5f, 2f, 0.5f, 1f, 4);
			assertClose(stored(workspace, 2, -1, 4), new float[] { 4.5f, 0, 0, 2.5f }, "masked");
			// Without a base the mask reads v alone; a NaN threshold masks nothing.
			workspace.load(2, new float[] { 4, 9, 0, 1 }, 4);
			workspace.curvatureWeights(2, -1, 0.5f, 2f, 0.5f, 2f, 4);
			assertClose(stored(workspace, 2, -1, 4), new float[] { 4.5f, 6.5f, 0, 0 }, "baseless");
			workspace.load(2, new float[] { 4, 9, 0, 1 }, 4);
			workspace.curvatureWeights(2, 3, 1f, 1f, 0f, Float.NaN, 4);
			assertClose(stored(workspace, 2, -1, 4), new float[] { 4, 9, 0, 1 }, "unmasked");
		}
	}

	@Test
	void curvatureMergeIsThePreconditionedMeanOrTheLinearMeanWithFallbacks() {
		int[] deltas = { 2, 3 };
		int[] weights = { 4, 5 };
		try (Workspace workspace = backend().workspace(3, 6)) {
			workspace.load(2, new float[] { 1, 2, 3 }, 3);
			workspace.load(3, new float[] { 3, -2, 1 }, 3);
			workspace.load(4, new float[] { 1, 0, 0 }, 3);
			workspace.load(5, new float[] { 3, 1, 0 }, 3);
			workspace.curvatureMerge(1, deltas, weights, null, false, 0.1f, true, 3);
			assertClose(stored(workspace, 1, -1, 3), new float[] { 2.5f, -2, 0 }, "precond, fallback to base");
			workspace.curvatureMerge(1, deltas, weights, null, false, 0.1f, false, 3);
			assertClose(stored(workspace, 1, -1, 3), new float[] { 2.5f, -2, 2 }, "precond, fallback to mean");
			workspace.curvatureMerge(1, deltas, weights, new float[] { 2, 1 }, true, 0.1f, true, 3);
			assertClose(stored(workspace, 1, -1, 3), new float[] { 2.5f, -1, 0 }, "linear, masked");
			workspace.curvatureMerge(1, deltas, weights, new float[] { 2, 1 }, false, Float.NaN, true, 3);
			assertClose(stored(workspace, 1, -1, 3), new float[] { 2.5f, 1, 3.5f }, "linear, mask ignored");
		}
	}

	@Test
	void rowAndColumnSumsAddUpAcrossChunks() {
		try (Workspace workspace = backend().workspace(6, 2)) {
			workspace.load(1, new float[] { 1, 2, 3, 4, 5, 6 }, 6);
			double[] rows = new double[3];
			double[] columns = new double[3];
			workspace.rowColumnSums(1, 6, 3, false, rows, 1, columns);
			assertThat(rows).containsExactly(0, 6, 15);
			assertThat(columns).containsExactly(5, 7, 9);
			workspace.rowColumnSums(1, 6, 3, true, null, 0, columns);
			assertThat(columns).containsExactly(5 + 17, 7 + 29, 9 + 45);
		}
	}

	@Test
	void taskMergeIsPeftsMergeUtilsOnWholeTensors() {
		float[] first = { 4, -3, 2, -1 };
		float[] second = { -2, 1, 3, -5 };
		try (TaskMerge merge = new TaskMerge(backend(), 4, 2)) {
			merge.load(0, first);
			merge.load(1, second);
			// magnitude_prune at 0.5: the top two of each, |4|, |−3| and |3|, |−5|,
			// summed.
			assertClose(merge.merge(new float[] { 1, 0.5f }, TaskMerge.Pruning.MAGNITUDE, 0.5, null, 0, new long[2]),
					new float[] { 4, -3, 1.5f, -2.5f }, "magnitude_prune");
		}
		try (TaskMerge merge = new TaskMerge(backend(), 4, 2)) {
			merge.load(0, first);
			merge.load(1, second);
			// TIES without pruning: signs of the sums 2, −2, 5, −6; agreeing weighted
			// terms
			// averaged over their count.
			assertClose(
					merge.merge(new float[] { 1, 0.5f }, TaskMerge.Pruning.NONE, 1, SignElection.TOTAL, 0, new long[2]),
					new float[] { 4, -3, 1.75f, -1.75f }, "ties");
		}
		try (TaskMerge merge = new TaskMerge(backend(), 2, 1)) {
			merge.lowRank(0, new float[] { 1, 2 }, 2, 1, new float[] { 3 }, 1, 0.5f);
			assertClose(merge.merge(new float[] { 2 }, TaskMerge.Pruning.NONE, 1, null, 0, new long[1]),
					new float[] { 3, 6 }, "lowRank");
		}
	}

	private static void loadEach(Workspace workspace, int[] slots, float... values) {
		for (int t = 0; t < slots.length; t++) {
			workspace.load(slots[t], new float[] { values[t] }, 1);
		}
	}

	private static ByteBuffer f32(float[] values) {
		return TensorData.encode(values, values.length, DType.F32);
	}

	/** Reads a slot back through {@code store} as float32: the only way out. */
	private static float[] stored(Workspace workspace, int slot, int addend, int count) {
		ByteBuffer bytes = workspace.store(slot, addend, count, DType.F32, ByteBuffer.allocate(count * 4), false);
		float[] values = new float[count];
		bytes.order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(values);
		return values;
	}

	private static void assertClose(float[] actual, float[] expected, String what) {
		assertThat(actual).as(what).hasSameSizeAs(expected);
		for (int i = 0; i < actual.length; i++) {
			float bound = TOLERANCE * Math.max(1f, Math.abs(expected[i]));
			assertThat(actual[i]).as("%s[%d]", what, i).isCloseTo(expected[i], within(bound));
		}
	}

}
