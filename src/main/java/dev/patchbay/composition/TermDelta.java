package dev.patchbay.composition;

import java.util.List;

/**
 * What one term changes on one tensor: a sealed description of its effective delta, with
 * where its inputs lie. The executor turns it into engine operations chunk by chunk (a
 * chunk is a run of rows); weights are not part of it, the merge applies them.
 */
sealed interface TermDelta {

	/** Whether the delta can only be computed over the whole tensor at once. */
	default boolean needsWholeTensor() {
		return false;
	}

	/**
	 * Whether computing the delta reads the base rows; when it does not, passes that need
	 * only the delta (top-k selection) skip reading the base.
	 */
	default boolean needsBase() {
		return false;
	}

	/** A stored delta: a diff vector or a Robust Weight Signature, used as is. */
	record Stored(TensorRows delta) implements TermDelta {
	}

	/**
	 * A quantized signature tensor, decoded on the fly from its packed codes and its
	 * channels' scales and minima.
	 *
	 * @param codes the signature's packed codes (all tensors)
	 * @param codeOffset where this tensor's codes start, in bytes
	 * @param scales the signature's scales (all channels)
	 * @param minimums the signature's minima (all channels)
	 * @param channelOffset this tensor's first channel
	 * @param channels 1 for a per-tensor range, else one per row
	 * @param shape the decoded shape
	 * @param bits the code width
	 */
	record Quantized(TensorRows codes, long codeOffset, TensorRows scales, TensorRows minimums, int channelOffset,
			int channels, List<Long> shape, int bits) implements TermDelta {
	}

	/**
	 * A {@code modules_to_save} tensor: it replaces the base, so its delta is saved −
	 * base.
	 */
	record Replacement(TensorRows saved) implements TermDelta {

		@Override
		public boolean needsBase() {
			return true;
		}

	}

	/**
	 * A LoRA module: ΔW = s·B·A for linear layers ([out, in], or transposed to [in, out]
	 * with fan_in_fan_out) and convolutions (A flattened to [r, in·kh·kw]). With a
	 * magnitude vector it is DoRA, whose delta is W' − W with W' = m / ‖W + ΔW‖ ⊙ (W +
	 * ΔW), the norm taken per output channel.
	 *
	 * @param a lora_A, [r, in] or [r, in, kh, kw]
	 * @param b lora_B, [out, r] or [out, r, 1, 1]
	 * @param magnitude DoRA magnitudes, or null
	 * @param scale alpha/r or alpha/sqrt(r)
	 * @param fanInFanOut whether the base weight is stored [in, out]
	 */
	record Lora(TensorRows a, TensorRows b, TensorRows magnitude, float scale,
			boolean fanInFanOut) implements TermDelta {

		@Override
		public boolean needsWholeTensor() {
			// With fan_in_fan_out the output channels are columns, so a DoRA norm spans
			// every row.
			return this.fanInFanOut && this.magnitude != null;
		}

		@Override
		public boolean needsBase() {
			return this.magnitude != null;
		}

	}

	/**
	 * A CP-LoRA module:
	 * {@code ΔW[o, i, h, w] = s·Σ_r out[o, r]·in[i, r]·kh[h, r]·kw[w, r]}, and with a
	 * magnitude vector its DoRA variant, rescaled per output channel as {@link Lora} is.
	 *
	 * @param out lora_cp_out, [out, r]
	 * @param in lora_cp_in, [in, r]
	 * @param kh lora_cp_kh, [kh, r]
	 * @param kw lora_cp_kw, [kw, r]
	 * @param magnitude DoRA magnitudes, or null
	 * @param scale alpha/r or alpha/sqrt(r)
	 */
	record CpLora(TensorRows out, TensorRows in, TensorRows kh, TensorRows kw, TensorRows magnitude,
			float scale) implements TermDelta {

		@Override
		public boolean needsBase() {
			return this.magnitude != null;
		}

	}

	/**
	 * A loralib ConvLoRA module: {@code ΔW = s·(B·A).view(out, in, k, k)}, so rows [o·k,
	 * (o + 1)·k) of B·A, laid end to end, are row o of the weight.
	 *
	 * @param a lora_A, [r·k, in·k]
	 * @param b lora_B, [out·k, r·k]
	 * @param kernel k
	 * @param scale alpha/r or alpha/sqrt(r)
	 */
	record LoralibConv(TensorRows a, TensorRows b, int kernel, float scale) implements TermDelta {
	}

	/**
	 * PEFT's {@code lora_bias}: lora_B's bias, scaled like the module's weight delta, is
	 * the delta on the module's bias.
	 */
	record LoraBias(TensorRows bias, float scale) implements TermDelta {
	}

	/**
	 * A whole model as a term: its task vector, model − base, computed chunk by chunk and
	 * never stored. Rows past the base's (a larger vocabulary) are not read.
	 */
	record Model(TensorRows model) implements TermDelta {

		@Override
		public boolean needsBase() {
			return true;
		}

	}

}
