package dev.patchbay.storage;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.support.Fixtures;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;
import static org.assertj.core.api.Assertions.assertThatIllegalStateException;

class SafetensorsTests {

	@TempDir
	Path dir;

	@ParameterizedTest
	@ValueSource(strings = { "digits/testset.safetensors", "lora_gpt2_fan_in_fan_out/base.safetensors",
			"merge_utils_seed1/tensors.safetensors", "dora_cnn_conv/adapter/adapter_model.safetensors" })
	void readsEveryFixtureHeaderAsTheFileDeclaresIt(String fixture) throws IOException {
		Path file = Fixtures.path(fixture);
		SafetensorsHeader header = SafetensorsReader.readHeader(file, fixture);
		Map<String, String> expected = Fixtures.manifest(file);
		assertThat(header.tensors()).hasSize(expected.size());
		header.tensors()
			.forEach((tensor) -> assertThat(tensor.spec().dtype() + tensor.spec().shape().toString().replace(" ", ""))
				.isEqualTo(expected.get(tensor.name())));
		assertThat(header.fileSize()).isEqualTo(Files.size(file));
	}

	@Test
	void writtenFileReadsBackWithItsSpecsMetadataAndBytes() throws IOException {
		List<TensorSpec> specs = List.of(TensorSpec.of("b", DType.F16, 3), TensorSpec.of("a", DType.I64, 2, 1),
				TensorSpec.of("empty", DType.F32, 0), TensorSpec.of("scalar", DType.U8));
		ByteArrayOutputStream out = new ByteArrayOutputStream();
		try (SafetensorsWriter writer = new SafetensorsWriter(out, specs, Map.of("format", "pt"))) {
			// One buffer spanning two tensors, then the rest, to exercise tensor
			// boundaries.
			writer.write(ByteBuffer.wrap(new byte[] { 1, 2, 3, 4, 5, 6, 7, 8 }));
			writer.write(ByteBuffer.wrap(new byte[] { 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23 }));
		}
		Path file = Files.write(this.dir.resolve("out.safetensors"), out.toByteArray());
		SafetensorsHeader header = SafetensorsReader.readHeader(file, "out");
		assertThat(header.tensors()).extracting(TensorEntry::spec).containsExactlyInAnyOrderElementsOf(specs);
		assertThat(header.metadata()).containsExactly(Map.entry("format", "pt"));
		assertThat(header.tensors().get(0).offset() % 8).as("data starts 8-byte aligned").isZero();
		assertThat(out.size()).isEqualTo(SafetensorsWriter.fileSize(specs, Map.of("format", "pt")));
		assertThat(out.toByteArray()[out.size() - 1]).isEqualTo((byte) 23);
	}

	@Test
	void writerRefusesMoreOrFewerBytesThanDeclared() throws IOException {
		List<TensorSpec> specs = List.of(TensorSpec.of("w", DType.F32, 1));
		SafetensorsWriter tooMuch = new SafetensorsWriter(new ByteArrayOutputStream(), specs, Map.of());
		assertThatIllegalStateException().isThrownBy(() -> tooMuch.write(ByteBuffer.allocate(5)));
		SafetensorsWriter tooLittle = new SafetensorsWriter(new ByteArrayOutputStream(), specs, Map.of());
		tooLittle.write(ByteBuffer.allocate(3));
		assertThatIllegalStateException().isThrownBy(tooLittle::close).withMessageContaining("'w'");
	}

	@Test
	void rejectsDuplicateTensorNames() throws IOException {
		assertRejected(
				Fixtures.raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
						+ "\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", new byte[2]),
				"not valid JSON");
	}

	@Test
	void rejectsNonStringMetadata() throws IOException {
		assertRejected(Fixtures.raw("{\"__metadata__\":{\"n\":1}}", new byte[0]), "__metadata__ value of 'n'");
	}

	@Test
	void rejectsGapsAndTrailingBytes() throws IOException {
		assertRejected(Fixtures.raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", new byte[2]),
				"gap of 1 bytes");
		assertRejected(Fixtures.raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", new byte[3]),
				"2 trailing bytes");
	}

	@Test
	void rejectsZipCheckpointsUnread() throws IOException {
		assertRejected(new byte[] { 'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0 }, "zip archive");
	}

	/**
	 * These header lengths start the file with {@code 80 02}..{@code 80 05}, a pickle's
	 * protocol opcode.
	 */
	@ParameterizedTest
	@ValueSource(ints = { 640, 896, 1152, 1408, 65536 + 640, 65536 + 1408 })
	void validFileWhoseHeaderLengthLooksLikeAPickleOpcodeIsRead(int headerLength) throws IOException {
		Path file = Files.write(this.dir.resolve("padded.safetensors"), paddedHeader(headerLength));
		SafetensorsHeader header = SafetensorsReader.readHeader(file, "padded.safetensors");
		assertThat(header.tensors()).singleElement()
			.satisfies((tensor) -> assertThat(tensor.spec()).isEqualTo(TensorSpec.of("w", DType.F32, 2)));
	}

	/** Pickles of protocols 2 to 5 as torch.save and pickle.dumps write them. */
	@ParameterizedTest
	@ValueSource(strings = { "80 02 8a 0a 6c fc 9c 46 f9 20 6a a8 50 19 2e",
			"80 03 7d 71 00 58 01 00 00 00 77 71 01 4b 01 73 2e", "80 04 95 10 00 00 00 00 00 00 00 7d 94 2e",
			"80 05 95 0b 00 00 00 00 00 00 00 7d 94 2e" })
	void rejectsPicklesUnread(String hex) throws IOException {
		assertRejected(HexFormat.ofDelimiter(" ").parseHex(hex), "Python pickle");
	}

	private static byte[] paddedHeader(int headerLength) {
		String json = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
		byte[] file = Fixtures.raw(json + " ".repeat(headerLength - json.length()), new byte[8]);
		assertThat(file[0] & 0xFF).isEqualTo(headerLength & 0xFF);
		return file;
	}

	private void assertRejected(byte[] content, String message) throws IOException {
		Path file = Files.write(this.dir.resolve("bad.safetensors"), content);
		assertThatExceptionOfType(SafetensorsFormatException.class)
			.isThrownBy(() -> SafetensorsReader.readHeader(file, "bad.safetensors"))
			.withMessageContaining(message)
			.satisfies((ex) -> assertThat(ex.properties()).containsEntry("file", "bad.safetensors"));
	}

}
