package dev.patchbay.bench;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.SafetensorsWriter;
import dev.patchbay.engine.TensorData;

/**
 * Llama-shaped synthetic models: layers of q, k, v and o projections of hidden×hidden and
 * gate, up and down projections of hidden×mlp (mlp = 11/4 of hidden, 5632 for 2048, as in
 * TinyLlama and Llama-2's MLP ratio), cut off at a target size. Every tensor is a linear
 * projection, so a LoRA on all linear layers touches all of them.
 */
final class SyntheticModels {

	private SyntheticModels() {
	}

	/**
	 * The projections of as many layers as reach {@code targetBytes} (at least one
	 * tensor).
	 */
	static List<TensorSpec> llama(long targetBytes, int hidden, DType dtype) {
		long mlp = hidden * 11L / 4;
		List<TensorSpec> tensors = new ArrayList<>();
		long bytes = 0;
		String[][] layer = { { "self_attn.q_proj", "h", "h" }, { "self_attn.k_proj", "h", "h" },
				{ "self_attn.v_proj", "h", "h" }, { "self_attn.o_proj", "h", "h" }, { "mlp.gate_proj", "m", "h" },
				{ "mlp.up_proj", "m", "h" }, { "mlp.down_proj", "h", "m" } };
		for (int l = 0; bytes < targetBytes; l++) {
			for (String[] projection : layer) {
				if (bytes >= targetBytes) {
					break;
				}
				long rows = projection[1].equals("h") ? hidden : mlp;
				long columns = projection[2].equals("h") ? hidden : mlp;
				TensorSpec tensor = TensorSpec.of("model.layers." + l + "." + projection[0] + ".weight", dtype, rows,
						columns);
				tensors.add(tensor);
				bytes += tensor.byteSize();
			}
		}
		return tensors;
	}

	/** The same tensors in another dtype. */
	static List<TensorSpec> as(List<TensorSpec> tensors, DType dtype) {
		return tensors.stream().map((tensor) -> new TensorSpec(tensor.name(), dtype, tensor.shape())).toList();
	}

	/**
	 * Writes the tensors with pseudo-random values of the given magnitude, seeded (DoRA
	 * magnitude vectors around 1).
	 */
	static Path write(Path file, List<TensorSpec> tensors, float magnitude, long seed) throws IOException {
		try (FileChannel channel = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
				StandardOpenOption.TRUNCATE_EXISTING)) {
			SafetensorsWriter writer = new SafetensorsWriter(channel, tensors, Map.of());
			float[] chunk = new float[1 << 20];
			ByteBuffer encoded = ByteBuffer.allocate(chunk.length * 4).order(ByteOrder.LITTLE_ENDIAN);
			long state = seed * 0x9E3779B97F4A7C15L + 1;
			for (TensorSpec tensor : tensors) {
				// DoRA magnitudes are row norms, never near zero: the patch audit would
				// read small ones as removed neurons and refuse the adapter.
				float offset = tensor.name().endsWith(".lora_magnitude_vector") ? 1f : 0f;
				for (long done = 0; done < tensor.elementCount(); done += chunk.length) {
					int n = (int) Math.min(chunk.length, tensor.elementCount() - done);
					for (int i = 0; i < n; i++) {
						state ^= state << 13;
						state ^= state >>> 7;
						state ^= state << 17;
						chunk[i] = ((state >>> 40) * 0x1p-24f - 0.5f) * magnitude + offset;
					}
					writer.write(TensorData.encode(chunk, n, tensor.dtype(), encoded));
				}
			}
			writer.close();
		}
		return file;
	}

	/** A PEFT LoRA (or DoRA) adapter with rank r on every linear layer of the model. */
	static Map<String, Path> adapter(Path dir, List<TensorSpec> model, int rank, boolean dora) throws IOException {
		List<TensorSpec> tensors = new ArrayList<>();
		for (TensorSpec tensor : model) {
			if (tensor.name().contains(".layers.")) {
				String module = "base_model.model." + tensor.name().replace(".weight", "");
				tensors.add(TensorSpec.of(module + ".lora_A.weight", DType.F32, rank, tensor.shape().get(1)));
				tensors.add(TensorSpec.of(module + ".lora_B.weight", DType.F32, tensor.shape().get(0), rank));
				if (dora) {
					tensors.add(TensorSpec.of(module + ".lora_magnitude_vector", DType.F32, tensor.shape().get(0)));
				}
			}
		}
		Path adapterDir = Files.createDirectories(dir.resolve(dora ? "dora" : "lora"));
		Map<String, Path> files = new LinkedHashMap<>();
		files.put("adapter_model", write(adapterDir.resolve("adapter_model.safetensors"), tensors, 0.02f, 5));
		String targets = model.stream()
			.filter((tensor) -> tensor.name().contains(".layers."))
			.map((tensor) -> "\"" + tensor.name().replaceAll(".*\\.([a-z_]+)\\.weight$", "$1") + "\"")
			.distinct()
			.collect(Collectors.joining(", "));
		String config = "{\"peft_type\": \"LORA\", \"r\": " + rank + ", \"lora_alpha\": " + (2 * rank)
				+ ", \"target_modules\": [" + targets + "], \"use_dora\": " + dora + "}";
		files.put("adapter_config", Files.writeString(adapterDir.resolve("adapter_config.json"), config));
		return files;
	}

}
