package dev.patchbay.engine;

import java.nio.charset.StandardCharsets;

/**
 * A counter-based random stream: the value for an element is a pure function of (seed,
 * tensor name, term, element index), so DARE masks are identical across runs, chunkings
 * and devices. Mixing is SplitMix64's finalizer.
 */
public final class CounterRandom {

	private CounterRandom() {
	}

	/** A key for one term of one tensor. */
	public static long key(String tensorName, int term) {
		long hash = 0xcbf29ce484222325L;
		for (byte b : tensorName.getBytes(StandardCharsets.UTF_8)) {
			hash = (hash ^ (b & 0xFF)) * 0x100000001b3L;
		}
		return mix(hash ^ mix(term + 0x9E3779B97F4A7C15L));
	}

	/** Uniform in [0, 1) with 53 random bits. */
	public static double uniform(long seed, long key, long index) {
		long bits = mix(mix(seed ^ key) + index * 0x9E3779B97F4A7C15L);
		return (bits >>> 11) * 0x1.0p-53;
	}

	private static long mix(long z) {
		z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
		z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
		return z ^ (z >>> 31);
	}

}
