package dev.patchbay.composition;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;

import dev.patchbay.composition.MergeMethod.MajoritySign;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.InvalidInputException;

/**
 * A checked, normalized recipe.
 *
 * @param baseModelId the model to patch
 * @param terms the patches and weights, in order
 * @param method the merge method with its parameters
 * @param outputDtype dtype of floating-point outputs, or null for each base tensor's own
 * @param materialize whether to register the result as a model
 */
record Recipe(UUID baseModelId, List<Term> terms, MergeMethod method, DType outputDtype, boolean materialize) {

	record Term(UUID patchId, double weight) {
	}

	/**
	 * @param maxTerms the most terms a recipe may have
	 * @throws InvalidInputException naming the first invalid field
	 */
	static Recipe from(CompositionRequest request, int maxTerms) {
		if (request.baseModelId() == null) {
			throw invalid("baseModelId", "is required");
		}
		if (request.terms() == null || request.terms().isEmpty()) {
			throw invalid("terms", "must list at least one patch");
		}
		if (request.terms().size() > maxTerms) {
			throw invalid("terms", "has " + request.terms().size() + " terms, more than the limit of " + maxTerms
					+ " (patchbay.composition.max-terms)");
		}
		List<Term> terms = new ArrayList<>();
		for (int i = 0; i < request.terms().size(); i++) {
			CompositionRequest.Term term = request.terms().get(i);
			if (term == null || term.patchId() == null) {
				throw invalid("terms[" + i + "].patchId", "is required");
			}
			double weight = (term.weight() != null) ? term.weight() : 1.0;
			// Weights scale float32 deltas, so they must be finite as float32 too.
			if (!Float.isFinite((float) weight)) {
				throw invalid("terms[" + i + "].weight",
						"must be a finite number of magnitude at most " + Float.MAX_VALUE + " (float32)");
			}
			terms.add(new Term(term.patchId(), weight));
		}
		DType outputDtype = null;
		if (request.outputDtype() != null) {
			outputDtype = DType.fromName(request.outputDtype().toUpperCase(Locale.ROOT))
				.filter(DType::isFloatingPoint)
				.orElseThrow(() -> invalid("outputDtype", "must be one of F32, F16, BF16, F64"));
		}
		return new Recipe(request.baseModelId(), List.copyOf(terms), method(request), outputDtype,
				Boolean.TRUE.equals(request.materialize()));
	}

	private static MergeMethod method(CompositionRequest request) {
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
		return new InvalidInputException("invalid-recipe", "Invalid recipe", field + ": " + reason,
				Map.of("field", field));
	}

}
