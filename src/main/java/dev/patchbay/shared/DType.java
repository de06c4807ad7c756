package dev.patchbay.shared;

import java.util.Arrays;
import java.util.Optional;

/**
 * The tensor element types Patchbay accepts, named as in the safetensors format.
 */
public enum DType {

	F64(8), F32(4), F16(2), BF16(2), I64(8), I32(4), I16(2), I8(1), U8(1), BOOL(1);

	private final int byteSize;

	DType(int byteSize) {
		this.byteSize = byteSize;
	}

	public int byteSize() {
		return this.byteSize;
	}

	public boolean isFloatingPoint() {
		return this == F64 || this == F32 || this == F16 || this == BF16;
	}

	/**
	 * Looks up a dtype by its safetensors name; empty for names outside the whitelist.
	 */
	public static Optional<DType> fromName(String name) {
		return Arrays.stream(values()).filter((dtype) -> dtype.name().equals(name)).findFirst();
	}

}
