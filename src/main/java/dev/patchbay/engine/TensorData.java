package dev.patchbay.engine;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import dev.patchbay.shared.DType;

/**
 * Converts floating-point tensor data between its stored dtype and float32, the dtype all
 * composition math runs in. BF16 and F16 are converted here in Java, never handed to DJL,
 * whose native dtype switch has no BF16 case. The file readers map just the requested
 * span, for callers outside the hot path (inference, evaluation); compositions decode
 * from mappings they keep open.
 */
public final class TensorData {

	private TensorData() {
	}

	/**
	 * Reads {@code count} elements starting at element {@code first} of a tensor as
	 * float32.
	 * @param dataOffset absolute byte offset of the tensor's data in the file
	 */
	public static void readFloats(Path file, long dataOffset, DType dtype, long first, float[] out, int count)
			throws IOException {
		if (!dtype.isFloatingPoint()) {
			throw new IllegalArgumentException("not a floating-point dtype: " + dtype);
		}
		if (count == 0) {
			return;
		}
		long position = dataOffset + first * dtype.byteSize();
		try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
			MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, position,
					(long) count * dtype.byteSize());
			map.order(ByteOrder.LITTLE_ENDIAN);
			decode(map, dtype, out, count);
		}
	}

	/** Reads raw bytes of a file span, e.g. packed quantization codes. */
	public static byte[] readBytes(Path file, long position, int length) throws IOException {
		byte[] bytes = new byte[length];
		try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
			channel.map(FileChannel.MapMode.READ_ONLY, position, length).get(bytes);
		}
		return bytes;
	}

	private static void decode(ByteBuffer in, DType dtype, float[] out, int count) {
		decode(in, dtype, out, count, (dtype == DType.BF16) ? new short[count] : null);
	}

	/**
	 * Decodes {@code count} little-endian elements of {@code dtype} from the buffer's
	 * position into float32.
	 * @param words scratch of at least {@code count} shorts for BF16, reused by the
	 * caller so that a read allocates nothing; unused for other dtypes
	 */
	public static void decode(ByteBuffer in, DType dtype, float[] out, int count, short[] words) {
		ByteBuffer data = in.slice().order(ByteOrder.LITTLE_ENDIAN);
		switch (dtype) {
			case F32 -> data.asFloatBuffer().get(out, 0, count);
			case F64 -> {
				for (int i = 0; i < count; i++) {
					out[i] = (float) data.getDouble(i * 8);
				}
			}
			case BF16 -> {
				// Bulk-copy the 16-bit words, then widen in a loop the JIT vectorizes.
				data.asShortBuffer().get(words, 0, count);
				for (int i = 0; i < count; i++) {
					out[i] = Float.intBitsToFloat((words[i] & 0xFFFF) << 16);
				}
			}
			case F16 -> {
				for (int i = 0; i < count; i++) {
					out[i] = halfToFloat(data.getShort(i * 2));
				}
			}
			default -> throw new IllegalArgumentException("not a floating-point dtype: " + dtype);
		}
	}

	/**
	 * Encodes float32 values as little-endian bytes of {@code dtype}, rounding to nearest
	 * even when narrowing.
	 */
	public static ByteBuffer encode(float[] values, int count, DType dtype) {
		return encode(values, count, dtype, ByteBuffer.allocate(count * dtype.byteSize()));
	}

	/**
	 * Encodes into a reusable buffer of at least {@code count · dtype.byteSize()} bytes.
	 * @return the buffer, positioned at 0 and limited to the encoded bytes
	 */
	public static ByteBuffer encode(float[] values, int count, DType dtype, ByteBuffer target) {
		return encodeSum(values, null, count, dtype, target, (dtype == DType.BF16) ? new short[count] : null, false);
	}

	/**
	 * Encodes {@code values + addend} element by element (or just {@code values} when the
	 * addend is null) in one pass: a merge's last addition is fused with the conversion,
	 * so a narrowed output costs one loop, not two. The sum is left in {@code values}.
	 * @param words scratch of at least {@code count} shorts for BF16, else unused
	 * @param finite whether to refuse values that are NaN or infinite
	 * @return the target, positioned at 0 and limited to the encoded bytes
	 * @throws NonFiniteException if {@code finite} and a value is NaN or infinite
	 */
	public static ByteBuffer encodeSum(float[] values, float[] addend, int count, DType dtype, ByteBuffer target,
			short[] words, boolean finite) {
		ByteBuffer out = target.clear().limit(count * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
		if (addend != null) {
			for (int i = 0; i < count; i++) {
				values[i] += addend[i];
			}
		}
		if (finite && !allFinite(values, count)) {
			throw new NonFiniteException();
		}
		switch (dtype) {
			case F32 -> out.asFloatBuffer().put(values, 0, count);
			case F64 -> {
				for (int i = 0; i < count; i++) {
					out.putDouble(i * 8, values[i]);
				}
			}
			case BF16 -> {
				for (int i = 0; i < count; i++) {
					words[i] = floatToBfloat16(values[i]);
				}
				out.asShortBuffer().put(words, 0, count);
			}
			case F16 -> {
				for (int i = 0; i < count; i++) {
					out.putShort(i * 2, floatToHalf(values[i]));
				}
			}
			default -> throw new IllegalArgumentException("not a floating-point dtype: " + dtype);
		}
		return out;
	}

	/**
	 * Whether no value is NaN or infinite: an all-ones exponent plus one carries into the
	 * sign bit, and an OR of ints is a reduction the JIT vectorizes.
	 */
	static boolean allFinite(float[] values, int count) {
		int carried = 0;
		for (int i = 0; i < count; i++) {
			carried |= (Float.floatToRawIntBits(values[i]) & 0x7F800000) + 0x00800000;
		}
		return carried >= 0;
	}

	/** The value as it reads back after a round trip through {@code dtype}. */
	public static float round(float value, DType dtype) {
		return switch (dtype) {
			case F16 -> halfToFloat(floatToHalf(value));
			case BF16 -> Float.intBitsToFloat((floatToBfloat16(value) & 0xFFFF) << 16);
			default -> value;
		};
	}

	public static short floatToBfloat16(float value) {
		int bits = Float.floatToRawIntBits(value);
		if (Float.isNaN(value)) {
			return (short) ((bits >>> 16) | 0x40);
		}
		int rounding = 0x7FFF + ((bits >>> 16) & 1);
		return (short) ((bits + rounding) >>> 16);
	}

	/** Decodes an IEEE half-precision value. */
	public static float halfToFloat(short half) {
		int h = half & 0xFFFF;
		int sign = (h & 0x8000) << 16;
		int exponent = (h >>> 10) & 0x1F;
		int mantissa = h & 0x3FF;
		if (exponent == 0x1F) {
			return Float.intBitsToFloat(sign | 0x7F800000 | (mantissa << 13));
		}
		if (exponent == 0) {
			float magnitude = mantissa * 0x1p-24f;
			return (sign != 0) ? -magnitude : magnitude;
		}
		return Float.intBitsToFloat(sign | ((exponent + 112) << 23) | (mantissa << 13));
	}

	static short floatToHalf(float value) {
		int bits = Float.floatToRawIntBits(value);
		int sign = (bits >>> 16) & 0x8000;
		int exponent = ((bits >>> 23) & 0xFF) - 127 + 15;
		int mantissa = bits & 0x7FFFFF;
		if (((bits >>> 23) & 0xFF) == 0xFF) {
			return (short) (sign | 0x7C00 | ((mantissa != 0) ? 0x200 : 0));
		}
		if (exponent >= 0x1F) {
			return (short) (sign | 0x7C00);
		}
		if (exponent <= 0) {
			if (exponent < -10) {
				return (short) sign;
			}
			mantissa |= 0x800000;
			int shift = 14 - exponent;
			int half = mantissa >>> shift;
			int remainder = mantissa & ((1 << shift) - 1);
			int halfway = 1 << (shift - 1);
			if (remainder > halfway || (remainder == halfway && (half & 1) != 0)) {
				half++;
			}
			return (short) (sign | half);
		}
		int half = (exponent << 10) | (mantissa >>> 13);
		int remainder = mantissa & 0x1FFF;
		if (remainder > 0x1000 || (remainder == 0x1000 && (half & 1) != 0)) {
			half++;
		}
		return (short) (sign | half);
	}

}
