package dev.patchbay.composition;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

import dev.patchbay.composition.MergeMethod.MajoritySign;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * A checked, normalized recipe: what the planner plans, the digest is computed from and a
 * composition row stores. It holds ids, not references, so that moving an alias later
 * makes a new recipe rather than changing a stored one, and every default filled in, so
 * that drafts asking for the same computation plan, and share, alike.
 *
 * @param baseModelId the model to patch
 * @param terms the patches and weights, in order
 * @param method the merge method with its parameters
 * @param outputDtype dtype of floating-point outputs, or null for each base tensor's own
 * @param materialize whether to register the result as a model
 * @param dialect what the method's name means
 * @param parameters the method's parameters, for the mergekit dialect
 * @param safeMerge whether a result holding NaN or an infinity is refused
 * @param slices for a mergekit slices recipe (no terms), its slices in output order; else
 * empty
 * @param computeDtype the half precision the inputs are rounded to before the method runs
 * (mergekit's {@code dtype}), or null for float32
 */
record Recipe(UUID baseModelId, List<Term> terms, MergeMethod method, DType outputDtype, boolean materialize,
		Dialect dialect, Map<String, ParameterValue> parameters, boolean safeMerge, List<Slice> slices,
		DType computeDtype) {

	Recipe(UUID baseModelId, List<Term> terms, MergeMethod method, DType outputDtype, boolean materialize) {
		this(baseModelId, terms, method, outputDtype, materialize, Dialect.PEFT, Map.of(), true, List.of(), null);
	}

	Recipe(UUID baseModelId, List<Term> terms, MergeMethod method, DType outputDtype, boolean materialize,
			Dialect dialect, Map<String, ParameterValue> parameters, boolean safeMerge) {
		this(baseModelId, terms, method, outputDtype, materialize, dialect, parameters, safeMerge, List.of(), null);
	}

	/**
	 * One output slice, mergekit's {@code slices[]}: its sources' layer ranges, all of
	 * one length, merged with the recipe's method into as many output layers.
	 *
	 * @param sources the models and ranges, in order
	 * @param parameters the method's parameters for this slice, above the recipe's
	 */
	record Slice(List<Source> sources, Map<String, ParameterValue> parameters) {

		/** The layers the slice contributes: its first source's range length. */
		int layers() {
			return this.sources.isEmpty() ? 0 : this.sources.get(0).to() - this.sources.get(0).from();
		}

	}

	/**
	 * One source of a slice.
	 *
	 * @param modelId the model
	 * @param from first layer taken
	 * @param to layer after the last one taken
	 * @param parameters this source's parameters, above the slice's
	 */
	record Source(UUID modelId, int from, int to, Map<String, ParameterValue> parameters) {
	}

	boolean sliced() {
		return !this.slices.isEmpty();
	}

	/**
	 * One term: a patch, or a whole model whose task vector is model − base.
	 *
	 * @param patchId the patch, or null for a model
	 * @param weight the weight (PEFT dialect; the mergekit dialect reads parameters)
	 * @param modelId the model, or null for a patch
	 * @param parameters the term's parameters, {@code weight} among them when given
	 */
	record Term(UUID patchId, double weight, UUID modelId, Map<String, ParameterValue> parameters) {

		Term(UUID patchId, double weight) {
			this(patchId, weight, null, Map.of());
		}

	}

	/** What a method name means: PEFT's merge utilities or mergekit's merge methods. */
	enum Dialect {

		PEFT, MERGEKIT

	}

	/** Turns the references of a request into artifact ids, naming the field at fault. */
	@FunctionalInterface
	interface References {

		UUID resolve(ArtifactType type, String reference, String field);

	}

	/**
	 * Checks a draft's form and resolves its references to ids.
	 * @param maxTerms the most terms a recipe may have
	 * @throws InvalidInputException naming the first invalid field
	 */
	static Recipe from(RecipeDraft draft, int maxTerms, References references) {
		if (draft.terms() != null && draft.terms().size() > maxTerms) {
			throw invalid("terms", "has " + draft.terms().size() + " terms, more than the limit of " + maxTerms
					+ " (patchbay.composition.max-terms)");
		}
		if (draft instanceof RecipeDraft.Mergekit mergekit) {
			return mergekit(mergekit, maxTerms, references);
		}
		return peft((RecipeDraft.Peft) draft, references);
	}

	private static Recipe peft(RecipeDraft.Peft request, References references) {
		if (request.baseModelId() == null) {
			throw invalid("baseModelId", "is required");
		}
		if (request.terms() == null || request.terms().isEmpty()) {
			throw invalid("terms", "must list at least one patch");
		}
		List<Term> terms = new ArrayList<>();
		for (int i = 0; i < request.terms().size(); i++) {
			RecipeDraft.Term term = request.terms().get(i);
			if (term == null || (term.patchId() == null) == (term.modelId() == null)) {
				throw invalid("terms[" + i + "].patchId", "is required (or a modelId instead)");
			}
			double weight = (term.weight() != null) ? term.weight() : 1.0;
			// Weights scale float32 deltas, so they must be finite as float32 too.
			if (!Float.isFinite((float) weight)) {
				throw invalid("terms[" + i + "].weight",
						"must be a finite number of magnitude at most " + Float.MAX_VALUE + " (float32)");
			}
			if (term.parameters() != null && !term.parameters().isEmpty()) {
				throw invalid("terms[" + i + "].parameters", "are read by the mergekit dialect only");
			}
			terms.add(new Term(patch(references, term, "terms[" + i + "]"), weight,
					model(references, term.modelId(), "terms[" + i + "].modelId"), Map.of()));
		}
		DType outputDtype = outputDtype(request.output());
		return new Recipe(model(references, request.baseModelId(), "baseModelId"), List.copyOf(terms), method(request),
				outputDtype, materialize(request.output()), Dialect.PEFT, Map.of(), safeMerge(request.output()));
	}

	/** Asked for, or implied by a result name. */
	private static boolean materialize(RecipeDraft.Output output) {
		return Boolean.TRUE.equals(output.materialize())
				|| (output.materialize() == null && output.resultName() != null);
	}

	private static boolean safeMerge(RecipeDraft.Output output) {
		return !Boolean.FALSE.equals(output.safeMerge());
	}

	private static UUID model(References references, String reference, String field) {
		return (reference != null) ? references.resolve(ArtifactType.MODEL, reference, field) : null;
	}

	private static UUID patch(References references, RecipeDraft.Term term, String field) {
		return (term.patchId() != null) ? references.resolve(ArtifactType.PATCH, term.patchId(), field + ".patchId")
				: null;
	}

	/**
	 * A mergekit-dialect recipe, checked for form only: what the method makes of it is
	 * checked against the inputs' metadata by the planner, every problem at once.
	 */
	private static Recipe mergekit(RecipeDraft.Mergekit request, int maxTerms, References references) {
		List<Slice> slices = slices(request, maxTerms, references);
		if (slices.isEmpty() && (request.terms() == null || request.terms().isEmpty())) {
			throw invalid("terms", "must list at least one model or patch (or give slices instead)");
		}
		if (!slices.isEmpty() && request.terms() != null && !request.terms().isEmpty()) {
			throw invalid("terms", "and slices exclude each other, as mergekit's models and slices do");
		}
		if (request.method() == null) {
			throw invalid("method", "is required in the mergekit dialect; one of " + MergekitMethods.NAMES);
		}
		List<Term> terms = new ArrayList<>();
		for (int i = 0; i < ((request.terms() != null) ? request.terms().size() : 0); i++) {
			RecipeDraft.Term term = request.terms().get(i);
			String field = "terms[" + i + "]";
			if (term == null || (term.patchId() == null) == (term.modelId() == null)) {
				throw invalid(field + ".modelId", "exactly one of modelId and patchId is required");
			}
			Map<String, ParameterValue> parameters = new LinkedHashMap<>(
					ParameterValue.parseAll(term.parameters(), field + ".parameters"));
			if (term.weight() != null) {
				if (!Float.isFinite(term.weight().floatValue())) {
					throw invalid(field + ".weight",
							"must be a finite number of magnitude at most " + Float.MAX_VALUE + " (float32)");
				}
				if (parameters.containsKey("weight")) {
					throw invalid(field + ".weight", "is given twice, also in parameters");
				}
				parameters.put("weight", new ParameterValue.Scalar(term.weight()));
			}
			terms.add(new Term(patch(references, term, field), (term.weight() != null) ? term.weight() : 1.0,
					model(references, term.modelId(), field + ".modelId"),
					java.util.Collections.unmodifiableMap(parameters)));
		}
		DType compute = computeDtype(request);
		DType output = outputDtype(request.output());
		return new Recipe(model(references, request.baseModelId(), "baseModelId"), List.copyOf(terms),
				new MergeMethod.Mergekit(request.method(), (request.seed() != null) ? request.seed() : 0L),
				(output != null) ? output : compute, materialize(request.output()), Dialect.MERGEKIT,
				ParameterValue.parseAll(request.parameters(), "parameters"), safeMerge(request.output()), slices,
				compute);
	}

	/**
	 * mergekit's {@code dtype}: null for float32 (and float64, which computes in float32
	 * here), else the half precision inputs are rounded to.
	 */
	private static DType computeDtype(RecipeDraft.Mergekit request) {
		if (request.computeDtype() == null) {
			return null;
		}
		DType dtype = DType.fromName(request.computeDtype().toUpperCase(Locale.ROOT))
			.filter(DType::isFloatingPoint)
			.orElseThrow(() -> invalid("computeDtype", "must be one of F32, F16, BF16, F64"));
		return (dtype == DType.F16 || dtype == DType.BF16) ? dtype : null;
	}

	/**
	 * The slices in form only: ranges are two integers here; whether they are non-empty,
	 * of one length and within each model is checked by the planner, every problem at
	 * once.
	 */
	private static List<Slice> slices(RecipeDraft.Mergekit request, int maxTerms, References references) {
		// An empty list is no slices: generated clients send one for an unset array.
		if (request.slices() == null || request.slices().isEmpty()) {
			return List.of();
		}
		List<Slice> slices = new ArrayList<>();
		for (int i = 0; i < request.slices().size(); i++) {
			RecipeDraft.Slice slice = request.slices().get(i);
			String field = "slices[" + i + "]";
			if (slice == null || slice.sources() == null) {
				throw invalid(field + ".sources", "is required: a list of {modelId, layerRange}");
			}
			if (slice.sources().size() > maxTerms) {
				throw invalid(field + ".sources", "has " + slice.sources().size() + " sources, more than the limit of "
						+ maxTerms + " (patchbay.composition.max-terms)");
			}
			List<Source> sources = new ArrayList<>();
			for (int j = 0; j < slice.sources().size(); j++) {
				RecipeDraft.Source source = slice.sources().get(j);
				String at = field + ".sources[" + j + "]";
				if (source == null || source.modelId() == null) {
					throw invalid(at + ".modelId", "is required");
				}
				List<Integer> range = source.layerRange();
				if (range == null || range.size() != 2 || range.get(0) == null || range.get(1) == null) {
					throw invalid(at + ".layerRange", "must be two integers [from, to], to exclusive");
				}
				sources.add(new Source(model(references, source.modelId(), at + ".modelId"), range.get(0), range.get(1),
						ParameterValue.parseAll(source.parameters(), at + ".parameters")));
			}
			slices.add(new Slice(List.copyOf(sources),
					ParameterValue.parseAll(slice.parameters(), field + ".parameters")));
		}
		return List.copyOf(slices);
	}

	private static DType outputDtype(RecipeDraft.Output output) {
		if (output.dtype() == null) {
			return null;
		}
		return DType.fromName(output.dtype().toUpperCase(Locale.ROOT))
			.filter(DType::isFloatingPoint)
			.orElseThrow(() -> invalid("outputDtype", "must be one of F32, F16, BF16, F64"));
	}

	private static MergeMethod method(RecipeDraft.Peft request) {
		String name = (request.method() != null) ? request.method() : "sum";
		if (!List.of(MergeMethod.NAMES.split(", ")).contains(name)) {
			throw invalid("method", "'" + name + "' is not one of " + MergeMethod.NAMES);
		}
		if (name.equals("sum")) {
			return new MergeMethod.Sum();
		}
		return MergeMethod.of(name, density(request.density(), name), majoritySign(request.majoritySign()),
				(request.seed() != null) ? request.seed() : 0L);
	}

	private static double density(Double density, String method) {
		if (density == null) {
			throw invalid("density", "is required for " + method);
		}
		if (!(density > 0 && density <= 1)) {
			throw invalid("density", "must be in (0, 1]");
		}
		return density;
	}

	private static MajoritySign majoritySign(String value) {
		if (value == null || value.equals("total")) {
			return MajoritySign.TOTAL;
		}
		if (value.equals("frequency")) {
			return MajoritySign.FREQUENCY;
		}
		throw invalid("majoritySign", "must be total or frequency");
	}

	private static InvalidInputException invalid(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_RECIPE, field + ": " + reason, Map.of("field", field));
	}

}
