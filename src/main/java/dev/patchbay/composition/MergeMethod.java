package dev.patchbay.composition;

/**
 * How the effective deltas of a composition's terms combine, with the semantics of
 * {@code peft.utils.merge_utils}. Each method is a pruning step followed by either a
 * weighted sum or TIES' sign election and disjoint merge.
 */
public sealed interface MergeMethod {

	/** The wire name, as in requests. */
	String wireName();

	/** Which elements of each delta survive before combining. */
	Pruning pruning();

	/** Fraction of elements kept by pruning; 1 when nothing is pruned. */
	double density();

	/** How TIES elects signs, or null for a plain weighted sum. */
	MajoritySign majoritySign();

	/** The method's wire names, for messages. */
	String NAMES = "sum, magnitude_prune, ties, dare_linear, dare_ties";

	/**
	 * The method of a wire name with its parameters; those a method does not use are
	 * ignored.
	 * @throws IllegalArgumentException for an unknown name
	 */
	static MergeMethod of(String name, double density, MajoritySign majoritySign, long seed) {
		return switch (name) {
			case "sum" -> new Sum();
			case "magnitude_prune" -> new MagnitudePrune(density);
			case "ties" -> new Ties(density, majoritySign);
			case "dare_linear" -> new DareLinear(density, seed);
			case "dare_ties" -> new DareTies(density, seed, majoritySign);
			default -> throw new IllegalArgumentException("'" + name + "' is not one of " + NAMES);
		};
	}

	/** Seed of the random pruning; 0 where there is none. */
	default long seed() {
		return 0;
	}

	/** Task arithmetic: the weighted sum of the deltas. */
	record Sum() implements MergeMethod {

		@Override
		public String wireName() {
			return "sum";
		}

		@Override
		public Pruning pruning() {
			return Pruning.NONE;
		}

		@Override
		public double density() {
			return 1;
		}

		@Override
		public MajoritySign majoritySign() {
			return null;
		}

	}

	/** Keep each delta's top {@code density} fraction by magnitude, then sum weighted. */
	record MagnitudePrune(double density) implements MergeMethod {

		@Override
		public String wireName() {
			return "magnitude_prune";
		}

		@Override
		public Pruning pruning() {
			return Pruning.MAGNITUDE;
		}

		@Override
		public MajoritySign majoritySign() {
			return null;
		}

	}

	/**
	 * Magnitude prune, elect a sign per element, and average the weighted deltas that
	 * agree.
	 */
	record Ties(double density, MajoritySign majoritySign) implements MergeMethod {

		@Override
		public String wireName() {
			return "ties";
		}

		@Override
		public Pruning pruning() {
			return Pruning.MAGNITUDE;
		}

	}

	/**
	 * Drop elements at random (keep probability density), rescale by 1/density, sum
	 * weighted.
	 */
	record DareLinear(double density, long seed) implements MergeMethod {

		@Override
		public String wireName() {
			return "dare_linear";
		}

		@Override
		public Pruning pruning() {
			return Pruning.RANDOM;
		}

		@Override
		public MajoritySign majoritySign() {
			return null;
		}

	}

	/** DARE's random drop and rescale, then TIES' sign election and disjoint merge. */
	record DareTies(double density, long seed, MajoritySign majoritySign) implements MergeMethod {

		@Override
		public String wireName() {
			return "dare_ties";
		}

		@Override
		public Pruning pruning() {
			return Pruning.RANDOM;
		}

	}

	/**
	 * A mergekit merge method, by mergekit's name; its parameters are the recipe's,
	 * resolved per tensor by the planner ({@link MergekitMethods}).
	 *
	 * @param wireName mergekit's name of the method
	 * @param seed keys the random sparsifiers
	 */
	record Mergekit(String wireName, long seed) implements MergeMethod {

		@Override
		public Pruning pruning() {
			return Pruning.NONE;
		}

		@Override
		public double density() {
			return 1;
		}

		@Override
		public MajoritySign majoritySign() {
			return null;
		}

	}

	/** Which elements survive pruning. */
	enum Pruning {

		NONE, MAGNITUDE, RANDOM

	}

	/** How TIES elects the sign of an element: by summed value or by count. */
	enum MajoritySign {

		TOTAL, FREQUENCY

	}

}
