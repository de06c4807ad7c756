package dev.patchbay.composition;

import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

import jakarta.persistence.CollectionTable;
import jakarta.persistence.ElementCollection;
import jakarta.persistence.Embeddable;
import jakarta.persistence.Entity;
import jakarta.persistence.EnumType;
import jakarta.persistence.Enumerated;
import jakarta.persistence.FetchType;
import jakarta.persistence.Id;
import jakarta.persistence.JoinColumn;
import jakarta.persistence.OrderColumn;
import jakarta.persistence.Table;

import dev.patchbay.composition.MergeMethod.MajoritySign;
import dev.patchbay.shared.ConflictException;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.ProblemKind;

/**
 * A stored recipe with its progress and result.
 */
@Entity
@Table(name = "composition")
class Composition {

	@Id
	private UUID id;

	private String recipeDigest;

	private UUID baseModelId;

	private String method;

	private double density;

	@Enumerated(EnumType.STRING)
	private MajoritySign majoritySign;

	private long seed;

	@Enumerated(EnumType.STRING)
	private DType outputDtype;

	private boolean materialize;

	/** Whether a result holding NaN or an infinity is refused. */
	private boolean safeMerge = true;

	/** The dialect of a mergekit recipe; null for PEFT. */
	private String dialect;

	/** A mergekit recipe's method parameters as canonical JSON; null for PEFT. */
	private String parameters;

	/**
	 * A slices recipe's per-slice parameters, a JSON array of canonical objects; null
	 * without slices. The sources are terms carrying their slice and layer range.
	 */
	private String slices;

	/** A mergekit recipe's compute dtype, or null for float32. */
	@Enumerated(EnumType.STRING)
	private DType computeDtype;

	@Enumerated(EnumType.STRING)
	private CompositionStatus status;

	private int tensorsDone;

	private int tensorsTotal;

	private long bytesDone;

	private long bytesTotal;

	private String resultDigest;

	private UUID resultModelId;

	private String error;

	private Instant createdAt;

	private Instant startedAt;

	private Instant finishedAt;

	/**
	 * The audit findings an admin acknowledged to compose flagged patches, as JSON; null
	 * when no patch was flagged.
	 */
	private String auditAcknowledgement;

	/**
	 * The instance holding the lease; written by {@link CompositionQueue}'s claim
	 * queries.
	 */
	private String claimedBy;

	/**
	 * The name the result is registered under, or null for a name made up from the
	 * base's.
	 */
	private String resultName;

	@ElementCollection(fetch = FetchType.EAGER)
	@CollectionTable(name = "composition_term", joinColumns = @JoinColumn(name = "composition_id"))
	@OrderColumn(name = "ordinal")
	private List<Term> terms = new ArrayList<>();

	protected Composition() {
	}

	Composition(Recipe recipe, String recipeDigest, int tensorsTotal, long bytesTotal) {
		this.id = UUID.randomUUID();
		this.recipeDigest = recipeDigest;
		this.baseModelId = recipe.baseModelId();
		this.method = recipe.method().wireName();
		this.density = recipe.method().density();
		this.majoritySign = recipe.method().majoritySign();
		this.seed = recipe.method().seed();
		this.outputDtype = recipe.outputDtype();
		this.materialize = recipe.materialize();
		this.safeMerge = recipe.safeMerge();
		this.status = CompositionStatus.PENDING;
		this.tensorsTotal = tensorsTotal;
		this.bytesTotal = bytesTotal;
		this.createdAt = Instant.now();
		if (recipe.dialect() != Recipe.Dialect.PEFT) {
			this.dialect = recipe.dialect().name().toLowerCase(Locale.ROOT);
			this.parameters = ParameterValue.canonical(recipe.parameters());
		}
		recipe.terms()
			.forEach((term) -> this.terms.add(new Term(term.patchId(), term.weight(), term.modelId(),
					term.parameters().isEmpty() ? null : ParameterValue.canonical(term.parameters()), null, null,
					null)));
		if (recipe.sliced()) {
			List<String> slices = new ArrayList<>();
			for (int i = 0; i < recipe.slices().size(); i++) {
				Recipe.Slice slice = recipe.slices().get(i);
				slices.add(ParameterValue.canonical(slice.parameters()));
				for (Recipe.Source source : slice.sources()) {
					this.terms.add(new Term(null, 1.0, source.modelId(),
							source.parameters().isEmpty() ? null : ParameterValue.canonical(source.parameters()), i,
							source.from(), source.to()));
				}
			}
			this.slices = "[" + String.join(",", slices) + "]";
		}
		this.computeDtype = recipe.computeDtype();
	}

	/** The recipe this composition was created from. */
	Recipe recipe() {
		List<Recipe.Term> terms = this.terms.stream()
			.filter((term) -> term.sliceIndex() == null)
			.map((term) -> new Recipe.Term(term.patchId(), term.weight(), term.modelId(), parse(term.parameters())))
			.toList();
		if (this.dialect != null) {
			return new Recipe(this.baseModelId, terms, new MergeMethod.Mergekit(this.method, this.seed),
					this.outputDtype, this.materialize, Recipe.Dialect.MERGEKIT, parse(this.parameters), this.safeMerge,
					slices(), this.computeDtype);
		}
		MergeMethod merge = MergeMethod.of(this.method, this.density, this.majoritySign, this.seed);
		return new Recipe(this.baseModelId, terms, merge, this.outputDtype, this.materialize, Recipe.Dialect.PEFT,
				Map.of(), this.safeMerge);
	}

	private List<Recipe.Slice> slices() {
		if (this.slices == null) {
			return List.of();
		}
		List<Recipe.Slice> slices = new ArrayList<>();
		tools.jackson.databind.JsonNode levels = tools.jackson.databind.json.JsonMapper.shared().readTree(this.slices);
		for (int i = 0; i < levels.size(); i++) {
			int index = i;
			List<Recipe.Source> sources = this.terms.stream()
				.filter((term) -> term.sliceIndex() != null && term.sliceIndex() == index)
				.map((term) -> new Recipe.Source(term.modelId(), term.layerFrom(), term.layerTo(),
						parse(term.parameters())))
				.toList();
			slices.add(new Recipe.Slice(sources, parse(levels.get(i).toString())));
		}
		return List.copyOf(slices);
	}

	private static java.util.Map<String, ParameterValue> parse(String parameters) {
		if (parameters == null) {
			return Map.of();
		}
		tools.jackson.databind.JsonNode node = tools.jackson.databind.json.JsonMapper.shared().readTree(parameters);
		java.util.Map<String, tools.jackson.databind.JsonNode> values = new java.util.LinkedHashMap<>();
		node.properties().forEach((entry) -> values.put(entry.getKey(), entry.getValue()));
		return ParameterValue.parseAll(values, "parameters");
	}

	/**
	 * Names the result. A result already named otherwise, or already registered, keeps
	 * its name.
	 * @throws ConflictException if it has another name
	 */
	void nameResult(String name) {
		if (name == null || name.equals(this.resultName)) {
			return;
		}
		if (this.resultName != null || this.resultModelId != null) {
			String current = (this.resultName != null) ? "is named '" + this.resultName + "'"
					: "is already registered as model " + this.resultModelId;
			throw new ConflictException(ProblemKind.RESULT_NAME_CONFLICT,
					"resultName: this recipe's result " + current + "; an identical recipe shares one result",
					Map.of("field", "resultName", "compositionId", this.id.toString()));
		}
		this.resultName = name;
	}

	/**
	 * Stops it: queued, it is never computed; running, its worker stops at its next
	 * chunk.
	 */
	void cancel() {
		this.status = CompositionStatus.CANCELLED;
		this.finishedAt = Instant.now();
	}

	/** Queues a cancelled composition again, from the start. */
	void requeue() {
		this.status = CompositionStatus.PENDING;
		this.tensorsDone = 0;
		this.bytesDone = 0;
		this.error = null;
		this.startedAt = null;
		this.finishedAt = null;
		this.claimedBy = null;
	}

	String getResultName() {
		return this.resultName;
	}

	void requestMaterialization() {
		this.materialize = true;
	}

	/**
	 * A materialization that failed after the result was ready: asked again, it is tried
	 * again.
	 */
	void materializationFailed() {
		this.materialize = false;
	}

	void progress(int tensorsDone, long bytesDone) {
		this.tensorsDone = tensorsDone;
		this.bytesDone = bytesDone;
	}

	void succeeded(String resultDigest, UUID resultModelId) {
		this.status = CompositionStatus.READY;
		this.resultDigest = resultDigest;
		this.resultModelId = resultModelId;
		this.tensorsDone = this.tensorsTotal;
		this.bytesDone = this.bytesTotal;
		this.finishedAt = Instant.now();
	}

	void materialized(UUID resultModelId) {
		this.resultModelId = resultModelId;
	}

	/**
	 * A sharded composition's whole digest, known once its whole file is first put
	 * together; the first one stands.
	 */
	void resultDigestKnown(String resultDigest) {
		if (this.resultDigest == null) {
			this.resultDigest = resultDigest;
		}
	}

	void acknowledgeAudit(String acknowledgementJson) {
		this.auditAcknowledgement = acknowledgementJson;
	}

	String getAuditAcknowledgement() {
		return this.auditAcknowledgement;
	}

	void failed(String errorJson) {
		this.status = CompositionStatus.FAILED;
		this.error = errorJson;
		this.finishedAt = Instant.now();
	}

	String getClaimedBy() {
		return this.claimedBy;
	}

	UUID getId() {
		return this.id;
	}

	String getRecipeDigest() {
		return this.recipeDigest;
	}

	UUID getBaseModelId() {
		return this.baseModelId;
	}

	String getMethod() {
		return this.method;
	}

	boolean isMaterialize() {
		return this.materialize;
	}

	CompositionStatus getStatus() {
		return this.status;
	}

	int getTensorsDone() {
		return this.tensorsDone;
	}

	int getTensorsTotal() {
		return this.tensorsTotal;
	}

	long getBytesDone() {
		return this.bytesDone;
	}

	long getBytesTotal() {
		return this.bytesTotal;
	}

	String getResultDigest() {
		return this.resultDigest;
	}

	UUID getResultModelId() {
		return this.resultModelId;
	}

	String getError() {
		return this.error;
	}

	Instant getCreatedAt() {
		return this.createdAt;
	}

	Instant getStartedAt() {
		return this.startedAt;
	}

	Instant getFinishedAt() {
		return this.finishedAt;
	}

	List<Term> getTerms() {
		return this.terms;
	}

	/**
	 * One term as stored.
	 *
	 * @param patchId the patch, or null for a model
	 * @param weight its weight
	 * @param modelId the model, or null for a patch
	 * @param parameters the term's parameters as canonical JSON, or null
	 * @param sliceIndex for a slice's source, its slice; else null
	 * @param layerFrom for a slice's source, the first layer taken
	 * @param layerTo for a slice's source, the layer after the last one taken
	 */
	@Embeddable
	record Term(UUID patchId, double weight, UUID modelId, String parameters, Integer sliceIndex, Integer layerFrom,
			Integer layerTo) {
	}

}
