package dev.patchbay.composition;

import java.io.IOException;
import java.util.Arrays;
import java.util.List;

import dev.patchbay.engine.TensorEngine;
import dev.patchbay.storage.TensorData;

/**
 * One term's effective delta on one tensor, produced chunk by chunk (a chunk is a run of
 * rows). Weights are not applied here; the merge applies them.
 */
sealed interface TermDelta {

	/**
	 * Writes the delta for rows [row, row + rows) into out.
	 * @param base the same rows of the base tensor, float32
	 */
	void compute(long row, int rows, float[] base, float[] out) throws IOException;

	/** Whether the delta can only be computed over the whole tensor at once. */
	default boolean needsWholeTensor() {
		return false;
	}

	/**
	 * Whether {@link #compute} reads the base rows; when it does not, passes that need
	 * only the delta (top-k selection) skip reading the base.
	 */
	default boolean needsBase() {
		return false;
	}

	/** A term that leaves the tensor alone. */
	record Zero(long rowElements) implements TermDelta {

		@Override
		public void compute(long row, int rows, float[] base, float[] out) {
			Arrays.fill(out, 0, Math.toIntExact(rows * this.rowElements), 0f);
		}

	}

	/** A stored delta: a diff vector or a Robust Weight Signature, used as is. */
	record Stored(TensorRows delta) implements TermDelta {

		@Override
		public void compute(long row, int rows, float[] base, float[] out) throws IOException {
			this.delta.read(row, rows, out);
		}

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
	 * @param quantizer the code width
	 */
	record Quantized(TensorRows codes, long codeOffset, TensorRows scales, TensorRows minimums, int channelOffset,
			int channels, List<Long> shape, Quantizer quantizer) implements TermDelta {

		@Override
		public void compute(long row, int rows, float[] base, float[] out) throws IOException {
			long rowElements = TensorRows.rowElementsOf(this.shape);
			long elements = TensorRows.rowsOf(this.shape) * rowElements;
			long first = row * rowElements;
			int count = Math.toIntExact(rows * rowElements);
			// Only this chunk's codes: from the byte holding the first one. Code widths
			// divide 8, so that byte starts on a code.
			long startByte = first * this.quantizer.bits() / 8;
			byte[] packed = TensorData.readBytes(this.codes.file(),
					this.codes.tensor().dataOffset() + this.codeOffset + startByte,
					Math.toIntExact(this.quantizer.packedBytes(first + count) - startByte));
			float[] scales = new float[this.channels];
			float[] minimums = new float[this.channels];
			read(this.scales, scales);
			read(this.minimums, minimums);
			this.quantizer.decode(packed, startByte * 8 / this.quantizer.bits(), first, count,
					(this.channels == 1) ? elements : rowElements, scales, minimums, out);
		}

		private void read(TensorRows ranges, float[] out) throws IOException {
			TensorData.readFloats(ranges.file(), ranges.tensor().dataOffset(), ranges.tensor().spec().dtype(),
					this.channelOffset, out, this.channels);
		}

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

		@Override
		public void compute(long row, int rows, float[] base, float[] out) throws IOException {
			this.saved.read(row, rows, out);
			int count = Math.toIntExact(rows * this.saved.rowElements());
			for (int i = 0; i < count; i++) {
				out[i] -= base[i];
			}
		}

	}

	/**
	 * A LoRA module: ΔW = s·B·A for linear layers ([out, in], or transposed to [in, out]
	 * with fan_in_fan_out) and convolutions (A flattened to [r, in·kh·kw]). With a
	 * magnitude vector it is DoRA, whose delta is W' − W with W' = m / ‖W + ΔW‖ ⊙ (W +
	 * ΔW), the norm taken per output channel.
	 *
	 * @param engine does the matmul
	 * @param a lora_A, [r, in] or [r, in, kh, kw]
	 * @param b lora_B, [out, r] or [out, r, 1, 1]
	 * @param magnitude DoRA magnitudes, or null
	 * @param scale alpha/r or alpha/sqrt(r)
	 * @param fanInFanOut whether the base weight is stored [in, out]
	 */
	record Lora(TensorEngine engine, TensorRows a, TensorRows b, TensorRows magnitude, float scale,
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

		@Override
		public void compute(long row, int rows, float[] base, float[] out) throws IOException {
			int rank = Math.toIntExact(this.a.rows());
			int inner = Math.toIntExact(this.a.rowElements());
			int outChannels = Math.toIntExact(this.b.rows());
			float[] a = this.a.readAll();
			int columns;
			if (this.fanInFanOut) {
				// W is [in, out]: rows [row, row + rows) of ΔW = (s·B·A[:, row:row +
				// rows])ᵀ.
				float[] aColumns = new float[rank * rows];
				for (int r = 0; r < rank; r++) {
					System.arraycopy(a, r * inner + Math.toIntExact(row), aColumns, r * rows, rows);
				}
				float[] product = new float[outChannels * rows];
				this.engine.scaledMatmul(this.b.readAll(), outChannels, rank, aColumns, rows, this.scale, product);
				for (int o = 0; o < outChannels; o++) {
					for (int i = 0; i < rows; i++) {
						out[i * outChannels + o] = product[o * rows + i];
					}
				}
				columns = outChannels;
			}
			else {
				float[] bRows = new float[rows * rank];
				this.b.read(row, rows, bRows);
				this.engine.scaledMatmul(bRows, rows, rank, a, inner, this.scale, out);
				columns = inner;
			}
			if (this.magnitude != null) {
				applyDora(row, rows, columns, base, out);
			}
		}

		private void applyDora(long row, int rows, int columns, float[] base, float[] out) throws IOException {
			float[] magnitudes = this.magnitude.readAll();
			int count = rows * columns;
			for (int i = 0; i < count; i++) {
				out[i] += base[i];
			}
			if (this.fanInFanOut) {
				double[] norms = new double[columns];
				for (int i = 0; i < count; i++) {
					norms[i % columns] += (double) out[i] * out[i];
				}
				for (int i = 0; i < count; i++) {
					out[i] = out[i] * (float) (magnitudes[i % columns] / Math.sqrt(norms[i % columns])) - base[i];
				}
				return;
			}
			for (int r = 0; r < rows; r++) {
				double norm = 0;
				for (int c = 0; c < columns; c++) {
					float v = out[r * columns + c];
					norm += (double) v * v;
				}
				float factor = (float) (magnitudes[Math.toIntExact(row) + r] / Math.sqrt(norm));
				for (int c = 0; c < columns; c++) {
					int i = r * columns + c;
					out[i] = out[i] * factor - base[i];
				}
			}
		}

	}

}
