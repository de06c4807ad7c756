package dev.patchbay.registry;

import java.util.Arrays;

import jakarta.persistence.Column;
import jakarta.persistence.Embeddable;
import org.hibernate.annotations.JdbcTypeCode;
import org.hibernate.type.SqlTypes;

import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;

/**
 * A manifest row: a tensor and where its bytes lie among the artifact's files; other
 * modules see it as a {@link StoredTensor}.
 *
 * @param name the tensor name
 * @param dtype the element type
 * @param shape the dimensions
 * @param fileOrdinal index into the artifact's files
 * @param dataOffset absolute byte offset of the data inside that file
 */
@Embeddable
record TensorLocation(String name, String dtype, @JdbcTypeCode(SqlTypes.ARRAY) long[] shape, int fileOrdinal,
		@Column(name = "data_offset") long dataOffset) {

	static TensorLocation of(TensorSpec spec, int fileOrdinal, long dataOffset) {
		return new TensorLocation(spec.name(), spec.dtype().name(), spec.shapeArray(), fileOrdinal, dataOffset);
	}

	TensorSpec spec() {
		return TensorSpec.of(this.name, DType.valueOf(this.dtype), this.shape);
	}

	StoredTensor stored() {
		return new StoredTensor(spec(), this.fileOrdinal, this.dataOffset);
	}

	@Override
	public boolean equals(Object other) {
		return other instanceof TensorLocation that && this.name.equals(that.name) && this.dtype.equals(that.dtype)
				&& Arrays.equals(this.shape, that.shape) && this.fileOrdinal == that.fileOrdinal
				&& this.dataOffset == that.dataOffset;
	}

	@Override
	public int hashCode() {
		return 31 * this.name.hashCode() + Arrays.hashCode(this.shape);
	}

}
