package dev.patchbay.storage;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import dev.patchbay.shared.TensorSpec;

/**
 * How {@code save_pretrained} cuts a state dict into safetensors shards: tensors in
 * order, a new shard whenever the next tensor would take the current one past the shard
 * size, files named {@code model-00001-of-00003.safetensors} beside a
 * {@code model.safetensors.index.json}, or a single {@code model.safetensors} when all
 * fit in one. Each shard's tensors are a contiguous run of the unsharded file's data.
 *
 * @param shards the shards in order
 * @param totalSize the bytes of tensor data over all shards
 */
public record ShardLayout(List<Shard> shards, long totalSize) {

	/** The weights file of a model that fits one shard. */
	public static final String SINGLE_FILE = "model.safetensors";

	/** The index of a sharded model. */
	public static final String INDEX_FILE = "model.safetensors.index.json";

	/** Every shard's header carries it, as {@code save_pretrained} writes it. */
	public static final Map<String, String> METADATA = Map.of("format", "pt");

	private static final JsonMapper JSON = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

	public ShardLayout {
		shards = List.copyOf(shards);
	}

	/**
	 * Cuts tensors into shards of at most {@code shardSize} bytes of data each (a larger
	 * tensor gets a shard of its own).
	 */
	public static ShardLayout of(List<TensorSpec> tensors, long shardSize) {
		List<int[]> runs = new ArrayList<>();
		int start = 0;
		long current = 0;
		long total = 0;
		for (int i = 0; i < tensors.size(); i++) {
			long size = tensors.get(i).byteSize();
			if (i > start && current + size > shardSize) {
				runs.add(new int[] { start, i });
				start = i;
				current = 0;
			}
			current += size;
			total += size;
		}
		if (start < tensors.size() || tensors.isEmpty()) {
			runs.add(new int[] { start, tensors.size() });
		}
		List<Shard> shards = new ArrayList<>();
		long dataOffset = 0;
		for (int i = 0; i < runs.size(); i++) {
			List<TensorSpec> specs = tensors.subList(runs.get(i)[0], runs.get(i)[1]);
			String name = (runs.size() == 1) ? SINGLE_FILE
					: String.format("model-%05d-of-%05d.safetensors", i + 1, runs.size());
			long dataSize = specs.stream().mapToLong(TensorSpec::byteSize).sum();
			shards.add(new Shard(name, List.copyOf(specs), SafetensorsWriter.header(specs, METADATA), dataOffset,
					dataSize));
			dataOffset += dataSize;
		}
		return new ShardLayout(shards, total);
	}

	public boolean sharded() {
		return this.shards.size() > 1;
	}

	/**
	 * The index file as {@code save_pretrained} writes it: {@code metadata.total_size}
	 * and a sorted {@code weight_map}.
	 */
	public byte[] indexJson() {
		Map<String, String> weightMap = new TreeMap<>();
		this.shards.forEach((shard) -> shard.tensors().forEach((tensor) -> weightMap.put(tensor.name(), shard.name())));
		Map<String, Object> index = new java.util.LinkedHashMap<>();
		index.put("metadata", Map.of("total_size", this.totalSize));
		index.put("weight_map", weightMap);
		byte[] json = JSON.writeValueAsBytes(index);
		byte[] withNewline = java.util.Arrays.copyOf(json, json.length + 1);
		withNewline[json.length] = '\n';
		return withNewline;
	}

	/**
	 * One shard file.
	 *
	 * @param name its file name
	 * @param tensors its tensors, in order
	 * @param header its complete header, {@code {"format":"pt"}} metadata included
	 * @param dataOffset where its tensors' data starts within the data of all shards
	 * @param dataSize the bytes of its tensors' data
	 */
	public record Shard(String name, List<TensorSpec> tensors, byte[] header, long dataOffset, long dataSize) {

		public long size() {
			return this.header.length + this.dataSize;
		}

	}

}
