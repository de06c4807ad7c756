package dev.patchbay.composition;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.WritableByteChannel;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

import com.google.re2j.Pattern;
import jakarta.validation.Validator;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.stereotype.Service;

import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.LineageLink;
import dev.patchbay.registry.PatchKind;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.BlobOutput;
import dev.patchbay.storage.BlobPins;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.SafetensorsWriter;
import dev.patchbay.storage.StagedBlob;
import dev.patchbay.engine.Quantizer;
import dev.patchbay.engine.TensorData;
import dev.patchbay.engine.TensorEngine;

/**
 * Derives patches on the server from registered models: diff vectors (fine-tuning
 * transfer) and Robust Weight Signatures. The result is streamed to a staged blob and
 * registered like an upload, with lineage to the models it came from.
 */
@Service
public class Derivations {

	/**
	 * Quantized signatures keep all codes, scales and minima in three tensors, for a
	 * small header.
	 */
	static final String CODES = "codes";

	static final String SCALES = "scales";

	static final String MINIMUMS = "minimums";

	// Scales and minima in half precision: they are a small share of a quantized
	// signature, and float16 keeps them to three significant digits.
	private static final DType RANGE_DTYPE = DType.F16;

	private final Registry registry;

	private final Ingest ingest;

	private final BlobStore blobs;

	private final CompositionProperties properties;

	private final JsonMapper json;

	private final TensorEngine engine;

	private final Validator validator;

	Derivations(Registry registry, Ingest ingest, BlobStore blobs, CompositionProperties properties, JsonMapper json,
			TensorEngine engine, Validator validator) {
		this.engine = engine;
		this.validator = validator;
		this.registry = registry;
		this.ingest = ingest;
		this.blobs = blobs;
		this.properties = properties;
		this.json = json;
	}

	/**
	 * Δ = finetuned − base over the tensors both have with compatible shapes (vocabulary
	 * tables are zero-padded to the larger row count); all-zero deltas are left out.
	 * @throws InvalidInputException naming the invalid field
	 * @throws UnprocessableException if no tensor differs
	 */
	public ArtifactDetails diff(Diff request, DerivedPatch patch) throws IOException {
		try (BlobPins pins = this.registry.pins()) {
			return diff(request, patch, pins);
		}
	}

	/**
	 * A diff to derive.
	 *
	 * @param baseModelId the model fine-tuning started from: an id or a reference
	 * @param finetunedModelId the fine-tuned model: an id or a reference
	 * @param include regexes; when given, only tensors whose name matches one are kept
	 * @param exclude regexes; tensors whose name matches one are dropped
	 * @param dtype stored dtype of the deltas; null for the fine-tuned tensor's dtype
	 */
	public record Diff(String baseModelId, String finetunedModelId, List<String> include, List<String> exclude,
			String dtype) {
	}

	private ArtifactDetails diff(Diff request, DerivedPatch patch, BlobPins pins) throws IOException {
		require("name", patch.name());
		require("baseModelId", request.baseModelId());
		require("finetunedModelId", request.finetunedModelId());
		UUID baseId = model(request.baseModelId(), "baseModelId");
		UUID finetunedId = model(request.finetunedModelId(), "finetunedModelId");
		// The base model becomes the patch's base, so compatibility checks and
		// compositions know what the diff applies to.
		ArtifactMetadata metadata = checked(new ArtifactMetadata(PatchKind.DIFF, patch.name(), patch.version(), null,
				baseId, patch.labels(), null));
		List<Pattern> include = patterns("include", request.include());
		List<Pattern> exclude = patterns("exclude", request.exclude());
		DType dtype = (request.dtype() != null) ? floatDtype("dtype", request.dtype()) : null;
		ArtifactContent base = this.registry.content(ArtifactType.MODEL, baseId, pins);
		ArtifactContent finetuned = this.registry.content(ArtifactType.MODEL, finetunedId, pins);
		Map<String, StoredTensor> baseTensors = base.tensorsByName();
		List<TensorSpec> specs = new ArrayList<>();
		List<TensorRows[]> sources = new ArrayList<>();
		// In the fine-tuned model's file order. Tensors only one model has, integer
		// tensors (position ids, masks) and shapes that cannot be padded are not part of
		// a diff: there is nothing to subtract.
		for (StoredTensor tuned : finetuned.tensors()) {
			StoredTensor original = baseTensors.get(tuned.name());
			String name = tuned.name();
			boolean selected = (include.isEmpty() || include.stream().anyMatch((p) -> p.matcher(name).find()))
					&& exclude.stream().noneMatch((p) -> p.matcher(name).find());
			if (!selected || original == null || !tuned.spec().dtype().isFloatingPoint()
					|| !original.spec().dtype().isFloatingPoint()) {
				continue;
			}
			List<Long> shape = paddedShape(original.spec(), tuned.spec());
			if (shape == null) {
				continue;
			}
			TensorRows[] pair = { new TensorRows(finetuned.fileOf(tuned), tuned),
					new TensorRows(base.fileOf(original), original) };
			// An unchanged tensor (a frozen layer) is left out rather than stored as
			// zeros, so the patch only weighs what fine-tuning changed.
			if (differs(pair, shape)) {
				specs.add(new TensorSpec(name, (dtype != null) ? dtype : tuned.spec().dtype(), shape));
				sources.add(pair);
			}
		}
		if (specs.isEmpty()) {
			throw new UnprocessableException(ProblemKind.EMPTY_DIFF,
					"the models share no floating-point tensor that differs (after include/exclude)",
					Map.of("field", "finetunedModelId"));
		}
		// The difference is a composition: finetuned + (−1)·base, on the engine's
		// threads.
		List<Plan.TensorPlan> tensors = new ArrayList<>();
		for (int t = 0; t < specs.size(); t++) {
			tensors.add(new Plan.TensorPlan(specs.get(t), sources.get(t)[0],
					List.of(new TermDelta.Stored(sources.get(t)[1]))));
		}
		// The same executor as compositions, so the diff is chunked, parallel and bounded
		// in memory like them, and reads each tensor in its own dtype.
		Plan plan = new Plan(tensors, new MergeMethod.Sum(), new float[] { -1f });
		try (BlobOutput output = this.blobs.create()) {
			new PlanExecutor(plan, this.engine, this.properties.chunkElements()).execute(output, (tensorsDone) -> {
			});
			StagedBlob staged = output.finish();
			return this.ingest.registerGenerated(ArtifactType.PATCH, metadata, staged, "diff.safetensors", null,
					List.of(new LineageLink(baseId, "base"), new LineageLink(finetunedId, "finetuned")));
		}
	}

	/**
	 * Equal shapes, or vocabulary tables that differ only in rows: then the larger row
	 * count.
	 */
	private static List<Long> paddedShape(TensorSpec base, TensorSpec tuned) {
		if (base.shape().equals(tuned.shape())) {
			return base.shape();
		}
		if (base.isVocabularyTable() && tuned.isVocabularyTable() && base.shape().get(1).equals(tuned.shape().get(1))) {
			return List.of(Math.max(base.shape().get(0), tuned.shape().get(0)), base.shape().get(1));
		}
		return null;
	}

	/**
	 * Whether any element differs, reading chunk by chunk and stopping at the first
	 * difference; a fine-tuned tensor usually differs in its first chunk.
	 */
	private boolean differs(TensorRows[] pair, List<Long> shape) throws IOException {
		boolean[] differs = { false };
		forEachDifferenceChunk(pair, shape, (delta, count) -> {
			for (int i = 0; i < count && !differs[0]; i++) {
				differs[0] = delta[i] != 0f;
			}
			return !differs[0];
		});
		return differs[0];
	}

	@FunctionalInterface
	private interface DeltaChunk {

		/** Returns whether to go on. */
		boolean accept(float[] delta, int count) throws IOException;

	}

	private void forEachDifferenceChunk(TensorRows[] pair, List<Long> shape, DeltaChunk chunk) throws IOException {
		// Padded rows read as zeros from the shorter table, so new vocabulary rows differ
		// from the base by their whole value.
		long rows = TensorRows.rowsOf(shape);
		long rowElements = TensorRows.rowElementsOf(shape);
		int chunkRows = (int) Math.max(1, Math.min(rows, this.properties.chunkElements() / Math.max(1, rowElements)));
		float[] tuned = new float[Math.toIntExact(chunkRows * rowElements)];
		float[] original = new float[tuned.length];
		for (long row = 0; row < rows; row += chunkRows) {
			int n = (int) Math.min(chunkRows, rows - row);
			pair[0].read(row, n, tuned);
			pair[1].read(row, n, original);
			int count = Math.toIntExact(n * rowElements);
			for (int i = 0; i < count; i++) {
				tuned[i] -= original[i];
			}
			if (!chunk.accept(tuned, count)) {
				return;
			}
		}
	}

	/**
	 * v = d − (⟨d, a⟩ / ⟨a, a⟩)·a with a = clean − pretrained and d = robust − pretrained
	 * (v = d where a = 0), or robust − clean without a pretrained model, over the tensors
	 * {@code include} selects; optionally quantized.
	 * @throws InvalidInputException naming the invalid field
	 * @throws UnprocessableException if a selected tensor is missing or differs in shape
	 */
	public ArtifactDetails rws(Rws request, DerivedPatch patch) throws IOException {
		try (BlobPins pins = this.registry.pins()) {
			return rws(request, patch, pins);
		}
	}

	/**
	 * A Robust Weight Signature to derive.
	 *
	 * @param cleanModelId the model trained on clean data
	 * @param robustModelId the model made robust
	 * @param pretrainedModelId the common pretrained model; null for robust − clean
	 * @param include regexes choosing the tensors the signature keeps
	 * @param quantization the signature's quantization, or null for none
	 */
	public record Rws(String cleanModelId, String robustModelId, String pretrainedModelId, List<String> include,
			Quantization quantization) {

		/**
		 * Uniform asymmetric min–max quantization.
		 *
		 * @param bits 8, 4 or 2
		 * @param granularity tensor (default) or channel
		 */
		public record Quantization(Integer bits, String granularity) {
		}

	}

	private ArtifactDetails rws(Rws request, DerivedPatch patch, BlobPins pins) throws IOException {
		require("name", patch.name());
		require("cleanModelId", request.cleanModelId());
		require("robustModelId", request.robustModelId());
		UUID cleanId = model(request.cleanModelId(), "cleanModelId");
		UUID robustId = model(request.robustModelId(), "robustModelId");
		UUID pretrainedId = (request.pretrainedModelId() != null)
				? model(request.pretrainedModelId(), "pretrainedModelId") : null;
		// The clean model is the signature's base: an RWS patch is applied to it.
		// A signature holds chosen tensors only; include is required so that it is never
		// a whole model's worth by accident.
		ArtifactMetadata metadata = checked(new ArtifactMetadata(PatchKind.RWS, patch.name(), patch.version(), null,
				cleanId, patch.labels(), null));
		if (request.include() == null || request.include().isEmpty()) {
			throw invalid("include", "is required: regexes choosing the tensors the signature keeps");
		}
		List<Pattern> include = patterns("include", request.include());
		Quantizer quantizer = null;
		boolean perChannel = false;
		if (request.quantization() != null) {
			Integer bits = request.quantization().bits();
			if (bits == null || (bits != 8 && bits != 4 && bits != 2)) {
				throw invalid("quantization.bits", "must be 8, 4 or 2");
			}
			String granularity = (request.quantization().granularity() != null) ? request.quantization().granularity()
					: "tensor";
			if (!granularity.equals("tensor") && !granularity.equals("channel")) {
				throw invalid("quantization.granularity", "must be tensor or channel");
			}
			quantizer = new Quantizer(bits);
			perChannel = granularity.equals("channel");
		}
		ArtifactContent clean = this.registry.content(ArtifactType.MODEL, cleanId, pins);
		ArtifactContent robust = this.registry.content(ArtifactType.MODEL, robustId, pins);
		ArtifactContent pretrained = (pretrainedId != null)
				? this.registry.content(ArtifactType.MODEL, pretrainedId, pins) : null;
		List<StoredTensor> selected = clean.tensors()
			.stream()
			.filter((tensor) -> tensor.spec().dtype().isFloatingPoint())
			.filter((tensor) -> include.stream().anyMatch((p) -> p.matcher(tensor.name()).find()))
			.toList();
		if (selected.isEmpty()) {
			throw invalid("include", "matches no floating-point tensor of the clean model");
		}
		// All three models must have every selected tensor with one shape; all mismatches
		// are reported together before anything is written.
		List<String> problems = new ArrayList<>();
		for (StoredTensor tensor : selected) {
			for (ArtifactContent other : (pretrained != null) ? List.of(robust, pretrained) : List.of(robust)) {
				StoredTensor twin = other.tensorsByName().get(tensor.name());
				if (twin == null || !twin.spec().shape().equals(tensor.spec().shape())) {
					problems.add("tensor '" + tensor.name() + "' is "
							+ ((twin == null) ? "missing" : "of shape " + twin.spec().shape()) + " in model "
							+ other.details().id());
				}
			}
		}
		if (!problems.isEmpty()) {
			throw new UnprocessableException(ProblemKind.INCOMPATIBLE_MODELS, String.join("; ", problems),
					Map.of("problems", problems));
		}
		Signature signature = new Signature(clean, robust, pretrained, selected);
		Map<String, Object> config = new LinkedHashMap<>();
		try (BlobOutput output = this.blobs.create()) {
			if (quantizer == null) {
				writePlain(signature, output);
			}
			else {
				config.put("quantization",
						Map.of("bits", quantizer.bits(), "granularity", perChannel ? "channel" : "tensor"));
				config.put("tensors", writeQuantized(signature, quantizer, perChannel, output));
			}
			StagedBlob staged = output.finish();
			// The compression report compares the stored patch with the same tensors in
			// float32 and with the whole clean model.
			long float32Bytes = selected.stream().mapToLong((tensor) -> tensor.spec().elementCount() * 4).sum();
			config.put("compression",
					Map.of("float32Bytes", float32Bytes, "modelBytes", clean.details().sizeBytes(), "patchBytes",
							staged.size(), "ratioVsFloat32", (double) float32Bytes / staged.size(), "ratioVsModel",
							(double) clean.details().sizeBytes() / staged.size()));
			List<LineageLink> lineage = new ArrayList<>(
					List.of(new LineageLink(cleanId, "clean"), new LineageLink(robustId, "robust")));
			if (pretrained != null) {
				lineage.add(new LineageLink(pretrainedId, "pretrained"));
			}
			return this.ingest.registerGenerated(ArtifactType.PATCH, metadata, staged, "signature.safetensors",
					this.json.writeValueAsString(config), lineage);
		}
	}

	/** An unquantized signature: each selected tensor's v in float32, one at a time. */
	private void writePlain(Signature signature, WritableByteChannel out) throws IOException {
		List<TensorSpec> specs = signature.tensors.stream()
			.map((tensor) -> new TensorSpec(tensor.name(), DType.F32, tensor.spec().shape()))
			.toList();
		try (SafetensorsWriter writer = new SafetensorsWriter(out, specs, Plan.METADATA)) {
			for (StoredTensor tensor : signature.tensors) {
				float[] v = signature.vector(tensor);
				writer.write(TensorData.encode(v, v.length, DType.F32));
			}
		}
	}

	/**
	 * Writes codes first (all tensors, each starting on a byte), then scales, then
	 * minima, and returns where each tensor's parts lie, for the patch config.
	 */
	private Map<String, Object> writeQuantized(Signature signature, Quantizer quantizer, boolean perChannel,
			WritableByteChannel out) throws IOException {
		Map<String, Object> layout = new LinkedHashMap<>();
		// A first pass lays out every tensor's codes and ranges, since the header (with
		// the three tensors' sizes) is written before any code.
		long codeBytes = 0;
		int channels = 0;
		for (StoredTensor tensor : signature.tensors) {
			int tensorChannels = channelsOf(tensor.spec(), perChannel);
			layout.put(tensor.name(), Map.of("shape", tensor.spec().shape(), "codeOffset", codeBytes, "channelOffset",
					channels, "channels", tensorChannels));
			codeBytes += quantizer.packedBytes(tensor.spec().elementCount());
			channels += tensorChannels;
		}
		List<TensorSpec> specs = List.of(TensorSpec.of(CODES, DType.U8, codeBytes),
				TensorSpec.of(SCALES, RANGE_DTYPE, channels), TensorSpec.of(MINIMUMS, RANGE_DTYPE, channels));
		float[] scales = new float[channels];
		float[] minimums = new float[channels];
		try (SafetensorsWriter writer = new SafetensorsWriter(out, specs, Plan.METADATA)) {
			int channel = 0;
			for (StoredTensor tensor : signature.tensors) {
				int tensorChannels = channelsOf(tensor.spec(), perChannel);
				float[] tensorScales = new float[tensorChannels];
				float[] tensorMinimums = new float[tensorChannels];
				// Each tensor's v is computed once, its codes written at once and only
				// its ranges kept, so memory is one tensor plus the ranges of all
				// channels.
				writer.write(ByteBuffer.wrap(quantizer.encode(signature.vector(tensor), tensorChannels, tensorScales,
						tensorMinimums, RANGE_DTYPE)));
				System.arraycopy(tensorScales, 0, scales, channel, tensorChannels);
				System.arraycopy(tensorMinimums, 0, minimums, channel, tensorChannels);
				channel += tensorChannels;
			}
			writer.write(TensorData.encode(scales, channels, RANGE_DTYPE));
			writer.write(TensorData.encode(minimums, channels, RANGE_DTYPE));
		}
		return layout;
	}

	/**
	 * One range per output channel for matrices and kernels; vectors (biases) get one
	 * range.
	 */
	static int channelsOf(TensorSpec spec, boolean perChannel) {
		return (perChannel && spec.shape().size() >= 2) ? Math.toIntExact(spec.shape().get(0)) : 1;
	}

	/** The inputs of a signature, computed one tensor at a time. */
	private record Signature(ArtifactContent clean, ArtifactContent robust, ArtifactContent pretrained,
			List<StoredTensor> tensors) {

		float[] vector(StoredTensor tensor) throws IOException {
			float[] clean = read(this.clean, tensor.name());
			float[] robust = read(this.robust, tensor.name());
			if (this.pretrained == null) {
				for (int i = 0; i < robust.length; i++) {
					robust[i] -= clean[i];
				}
				return robust;
			}
			float[] pretrained = read(this.pretrained, tensor.name());
			// The projection's dot products in double: over millions of elements float32
			// sums lose the digits that decide how much of d is removed.
			double da = 0;
			double aa = 0;
			for (int i = 0; i < clean.length; i++) {
				clean[i] -= pretrained[i];
				robust[i] -= pretrained[i];
				da += (double) robust[i] * clean[i];
				aa += (double) clean[i] * clean[i];
			}
			// a = 0 (the clean model did not move this tensor): nothing to project out.
			float projection = (aa == 0) ? 0f : (float) (da / aa);
			for (int i = 0; i < robust.length; i++) {
				robust[i] -= projection * clean[i];
			}
			return robust;
		}

		private static float[] read(ArtifactContent model, String name) throws IOException {
			StoredTensor location = model.tensorsByName().get(name);
			return new TensorRows(model.fileOf(location), location).readAll();
		}

	}

	private static List<Pattern> patterns(String field, List<String> regexes) {
		return DerivedRequests.patterns(field, regexes, Derivations::invalid);
	}

	private ArtifactMetadata checked(ArtifactMetadata metadata) {
		return DerivedRequests.checked(this.validator, metadata, Derivations::invalid);
	}

	/** A floating-point dtype by its safetensors name, in any case. */
	private static DType floatDtype(String field, String name) {
		return DType.fromName(name.toUpperCase(Locale.ROOT))
			.filter(DType::isFloatingPoint)
			.orElseThrow(() -> invalid(field, "must be one of F32, F16, BF16, F64"));
	}

	/** A model named by id or reference, as everywhere: the registry resolves it. */
	private UUID model(String reference, String field) {
		return this.registry.resolve(ArtifactType.MODEL, reference, field);
	}

	private static void require(String field, Object value) {
		DerivedRequests.require(field, value, Derivations::invalid);
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_DERIVATION, field + ": " + reason, Map.of("field", field));
	}

}
