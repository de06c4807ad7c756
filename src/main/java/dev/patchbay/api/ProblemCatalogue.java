package dev.patchbay.api;

import java.net.URI;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import org.springframework.http.HttpStatus;
import org.springframework.stereotype.Component;

import dev.patchbay.shared.PatchbayException;
import dev.patchbay.shared.ProblemBodies;
import dev.patchbay.shared.ProblemKind;

/**
 * The one place that names each problem kind: its type URI, fixed title and status, for
 * the API's answers and for the problems that background work stores, so that a stored
 * failure reads exactly as the API would have answered it.
 */
@Component
class ProblemCatalogue implements ProblemBodies {

	/** Every problem type is this base and the problem's slug. */
	private static final String TYPE_BASE = "https://patchbay.dev/problems/";

	private static final Map<ProblemKind, Entry> ENTRIES = entries();

	/**
	 * What the API answers for a kind of problem.
	 */
	static Entry entry(ProblemKind kind) {
		return ENTRIES.get(kind);
	}

	@Override
	public Map<String, Object> of(Exception ex, ProblemKind failure) {
		PatchbayException domain = (ex instanceof PatchbayException known) ? known : null;
		Entry entry = entry((domain != null) ? domain.kind() : failure);
		Map<String, Object> problem = new LinkedHashMap<>();
		problem.put("type", entry.type().toString());
		problem.put("title", entry.title());
		if (domain != null) {
			problem.put("detail", String.valueOf(domain.getMessage()));
			problem.putAll(domain.properties());
		}
		else {
			// "the composition failed: ...": the title says what failed, the message why.
			problem.put("detail", "the " + entry.title().toLowerCase(Locale.ROOT) + ": " + ex.getMessage());
		}
		return problem;
	}

	private static Map<ProblemKind, Entry> entries() {
		Map<ProblemKind, Entry> entries = new EnumMap<>(ProblemKind.class);
		for (ProblemKind kind : ProblemKind.values()) {
			entries.put(kind, entryOf(kind));
		}
		return entries;
	}

	// A switch expression, so that a new kind does not compile until it is named here.
	private static Entry entryOf(ProblemKind kind) {
		return switch (kind) {
			case INVALID_ADAPTER -> named(HttpStatus.BAD_REQUEST, "invalid-adapter", "Invalid adapter");
			case INVALID_COMBINATION ->
				named(HttpStatus.BAD_REQUEST, "invalid-combination", "Invalid LoRA combination request");
			case INVALID_DERIVATION ->
				named(HttpStatus.BAD_REQUEST, "invalid-derivation", "Invalid derivation request");
			case INVALID_EXTRACTION ->
				named(HttpStatus.BAD_REQUEST, "invalid-extraction", "Invalid LoRA extraction request");
			case INVALID_FIELD -> named(HttpStatus.BAD_REQUEST, "invalid-field", "Invalid field");
			case INVALID_INFERENCE_INPUT ->
				named(HttpStatus.BAD_REQUEST, "invalid-inference-input", "Invalid inference input");
			case INVALID_KEY_REQUEST -> named(HttpStatus.BAD_REQUEST, "invalid-key-request", "Invalid key request");
			case INVALID_METADATA -> named(HttpStatus.BAD_REQUEST, "invalid-metadata", "Invalid metadata");
			case INVALID_PARAMETER -> named(HttpStatus.BAD_REQUEST, "invalid-parameter", "Invalid parameter");
			case INVALID_RECIPE -> named(HttpStatus.BAD_REQUEST, "invalid-recipe", "Invalid recipe");
			case INVALID_REQUEST_BODY -> named(HttpStatus.BAD_REQUEST, "invalid-request-body", "Invalid request body");
			case INVALID_ROLE -> named(HttpStatus.BAD_REQUEST, "invalid-role", "Invalid role");
			case INVALID_SAFETENSORS ->
				named(HttpStatus.BAD_REQUEST, "invalid-safetensors", "Invalid safetensors file");
			case INVALID_SWEEP -> named(HttpStatus.BAD_REQUEST, "invalid-sweep", "Invalid sweep");
			case INVALID_TRANSFORM -> named(HttpStatus.BAD_REQUEST, "invalid-transform", "Invalid transform request");
			case INVALID_UPLOAD -> named(HttpStatus.BAD_REQUEST, "invalid-upload", "Invalid upload");
			case INVALID_WEBHOOK -> named(HttpStatus.BAD_REQUEST, "invalid-webhook", "Invalid webhook");
			case UNAUTHENTICATED -> named(HttpStatus.UNAUTHORIZED, "unauthenticated", "Unauthenticated");
			case AUDIT_ACKNOWLEDGEMENT_FORBIDDEN ->
				named(HttpStatus.FORBIDDEN, "audit-acknowledgement-forbidden", "Forbidden");
			case FORBIDDEN -> named(HttpStatus.FORBIDDEN, "forbidden", "Forbidden");
			case ALIAS_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "alias-not-found", "Alias not found");
			case BLOB_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "blob-not-found", "Blob not found");
			case COMPOSITION_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "composition-not-found", "Composition not found");
			case DATASET_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "dataset-not-found", "Dataset not found");
			case EVALUATION_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "evaluation-not-found", "Evaluation not found");
			case FILE_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "file-not-found", "File not found");
			case KEY_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "key-not-found", "API key not found");
			case MODEL_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "model-not-found", "Model not found");
			case MODEL_VERSION_NOT_FOUND ->
				named(HttpStatus.NOT_FOUND, "model-version-not-found", "Model version not found");
			case PATCH_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "patch-not-found", "Patch not found");
			case SWEEP_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "sweep-not-found", "Sweep not found");
			case WEBHOOK_NOT_FOUND -> named(HttpStatus.NOT_FOUND, "webhook-not-found", "Webhook not found");
			case ARTIFACT_EXISTS -> named(HttpStatus.CONFLICT, "artifact-exists", "Artifact already exists");
			case ARTIFACT_IN_USE -> named(HttpStatus.CONFLICT, "artifact-in-use", "Artifact still referenced");
			case COMPOSITION_CANCELLED -> named(HttpStatus.CONFLICT, "composition-cancelled", "Composition cancelled");
			case COMPOSITION_FAILED -> named(HttpStatus.CONFLICT, "composition-failed", "Composition failed");
			case COMPOSITION_FINISHED ->
				named(HttpStatus.CONFLICT, "composition-finished", "Composition already finished");
			case COMPOSITION_NOT_READY -> named(HttpStatus.CONFLICT, "composition-not-ready", "Composition not ready");
			case COMPOSITION_RUNNING -> named(HttpStatus.CONFLICT, "composition-running", "Composition still running");
			case RESULT_NAME_CONFLICT -> named(HttpStatus.CONFLICT, "result-name-conflict", "Result already named");
			case PRECONDITION_FAILED ->
				named(HttpStatus.PRECONDITION_FAILED, "precondition-failed", "Precondition failed");
			case INFERENCE_INPUT_TOO_LARGE ->
				named(HttpStatus.PAYLOAD_TOO_LARGE, "inference-input-too-large", "Inference input too large");
			case INFERENCE_REQUEST_TOO_LARGE ->
				named(HttpStatus.PAYLOAD_TOO_LARGE, "inference-request-too-large", "Inference request too large");
			case UPLOAD_TOO_LARGE -> named(HttpStatus.PAYLOAD_TOO_LARGE, "upload-too-large", "Upload too large");
			case AUDIT_NOT_FINITE -> named(HttpStatus.UNPROCESSABLE_CONTENT, "audit-not-finite", "Audit not finite");
			case COMPOSITION_DEGENERATE ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "composition-degenerate", "Degenerate merge");
			case COMPOSITION_INVALID ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "composition-invalid", "Invalid recipe");
			case COMPOSITION_NOT_FINITE ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "composition-not-finite", "Composition not finite");
			case DORA_COMBINATION ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "dora-combination", "DoRA adapters cannot be combined");
			case EMPTY_DIFF -> named(HttpStatus.UNPROCESSABLE_CONTENT, "empty-diff", "Nothing to diff");
			case EMPTY_EXTRACTION -> named(HttpStatus.UNPROCESSABLE_CONTENT, "empty-extraction", "Nothing to extract");
			case GRAPH_MISMATCH ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "graph-mismatch", "Graph does not match the model");
			case IMPOSSIBLE_TRANSFORM ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "impossible-transform", "The transform does not fit the model");
			case INCOMPATIBLE_ADAPTERS ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "incompatible-adapters", "Adapters do not fit together");
			case INCOMPATIBLE_MODELS ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "incompatible-models", "Incompatible models");
			case INCOMPATIBLE_RECIPE ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "incompatible-recipe", "Incompatible recipe");
			case LINEAGE_TOO_LARGE -> named(HttpStatus.UNPROCESSABLE_CONTENT, "lineage-too-large", "Lineage too large");
			case MODULES_TO_SAVE_COMBINATION -> named(HttpStatus.UNPROCESSABLE_CONTENT, "modules-to-save-combination",
					"Saved modules cannot be combined");
			case NO_BASE -> named(HttpStatus.UNPROCESSABLE_CONTENT, "no-base", "The diff patch has no base model");
			case NO_GRAPH -> named(HttpStatus.UNPROCESSABLE_CONTENT, "no-graph", "Model has no graph");
			case NON_FINITE_WEIGHT -> named(HttpStatus.UNPROCESSABLE_CONTENT, "non-finite-weight", "Non-finite weight");
			case PATCH_AUDIT_FLAGGED ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "patch-audit-flagged", "Patch flagged by its audit");
			case RECIPE_NOT_EXPRESSIBLE ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "recipe-not-expressible", "Recipe not expressible in mergekit");
			case SHAPE_MISMATCH -> named(HttpStatus.UNPROCESSABLE_CONTENT, "shape-mismatch", "Shapes differ");
			case SHARDED_INFERENCE -> named(HttpStatus.UNPROCESSABLE_CONTENT, "sharded-inference", "Sharded model");
			case SWEEP_TENSOR_NOT_IN_GRAPH ->
				named(HttpStatus.UNPROCESSABLE_CONTENT, "sweep-tensor-not-in-graph", "Patch does not fit the graph");
			case SWEEP_TOO_LARGE -> named(HttpStatus.UNPROCESSABLE_CONTENT, "sweep-too-large", "Sweep too large");
			case TENSOR_TOO_LARGE -> named(HttpStatus.UNPROCESSABLE_CONTENT, "tensor-too-large", "Tensor too large");
			case UNEQUAL_RANKS -> named(HttpStatus.UNPROCESSABLE_CONTENT, "unequal-ranks", "Ranks differ");
			case UNSUPPORTED_LAYOUT -> named(HttpStatus.UNPROCESSABLE_CONTENT, "unsupported-layout",
					"Conv adapter layouts cannot be combined");
			case COMPOSITIONS_BUSY ->
				named(HttpStatus.SERVICE_UNAVAILABLE, "compositions-busy", "Too many queued compositions");
			case EVALUATIONS_BUSY -> named(HttpStatus.SERVICE_UNAVAILABLE, "evaluations-busy", "Too many evaluations");
			case SWEEPS_BUSY -> named(HttpStatus.SERVICE_UNAVAILABLE, "sweeps-busy", "Too many sweeps");
			case ENGINE_OUT_OF_MEMORY ->
				named(HttpStatus.INSUFFICIENT_STORAGE, "engine-out-of-memory", "Out of memory");
			case INSUFFICIENT_STORAGE ->
				named(HttpStatus.INSUFFICIENT_STORAGE, "insufficient-storage", "Insufficient storage");
			case EVALUATION_ABANDONED ->
				named(HttpStatus.INTERNAL_SERVER_ERROR, "evaluation-abandoned", "Evaluation abandoned");
			case EVALUATION_FAILED -> named(HttpStatus.INTERNAL_SERVER_ERROR, "evaluation-failed", "Evaluation failed");
			case INTERNAL_ERROR -> named(HttpStatus.INTERNAL_SERVER_ERROR, "internal-error", "Internal error");
			case SWEEP_FAILED -> named(HttpStatus.INTERNAL_SERVER_ERROR, "sweep-failed", "Sweep failed");
		};
	}

	private static Entry named(HttpStatus status, String slug, String title) {
		return new Entry(status, URI.create(TYPE_BASE + slug), title);
	}

	/**
	 * A problem kind as the API names it.
	 *
	 * @param status the HTTP status it is answered with
	 * @param type its stable RFC 9457 type URI
	 * @param title its fixed, human-readable title
	 */
	record Entry(HttpStatus status, URI type, String title) {
	}

}
