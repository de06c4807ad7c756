package dev.patchbay.registry;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.SafetensorsHeader;
import dev.patchbay.storage.SafetensorsReader;
import dev.patchbay.storage.TensorEntry;

/**
 * A model's or diff patch's optimizer second moments (Adam's {@code exp_avg_sq}), stored
 * beside its weights for curvature-aware merging (OTA, Fast Fisher Grafting): per weight
 * tensor, the full v of its shape, or for a matrix the rank-1 factors that OTA's
 * memory-light variant keeps, the row sums R = v·1 and the column sums C = 1ᵀv.
 *
 * @param file the local file holding them
 * @param tensors per weight tensor name, where its moments lie
 */
public record SecondMoments(Path file, Map<String, Moments> tensors) {

	/** Suffix of the row-sum factor of a rank-1 entry. */
	public static final String ROWS = ".exp_avg_sq_rows";

	/** Suffix of the column-sum factor of a rank-1 entry. */
	public static final String COLUMNS = ".exp_avg_sq_cols";

	/**
	 * One tensor's second moments: {@code full}, or the factors {@code rows} and
	 * {@code columns}.
	 */
	public record Moments(StoredTensor full, StoredTensor rows, StoredTensor columns) {

		public boolean rankOne() {
			return this.full == null;
		}

	}

	/**
	 * How one weight tensor's entry was found.
	 *
	 * @param names the entry's tensor names
	 * @param problem why it does not fit the weight, or null
	 */
	record Entry(List<String> names, String problem) {
	}

	/** Whether an artifact carries second moments. */
	public static boolean present(ArtifactContent content) {
		return content.details().files().stream().anyMatch((file) -> file.role().equals(Ingest.SECOND_MOMENTS));
	}

	/**
	 * An artifact's second moments, read from its resolved local file.
	 * @return null if the artifact has none
	 */
	public static SecondMoments of(ArtifactContent content) throws IOException {
		List<StoredFile> files = content.details().files();
		for (int ordinal = 0; ordinal < files.size(); ordinal++) {
			if (!files.get(ordinal).role().equals(Ingest.SECOND_MOMENTS)) {
				continue;
			}
			Path path = content.files().get(ordinal);
			SafetensorsHeader header = SafetensorsReader.readHeader(path, files.get(ordinal).fileName());
			Map<String, TensorSpec> specs = new HashMap<>();
			Map<String, StoredTensor> locations = new HashMap<>();
			for (TensorEntry entry : header.tensors()) {
				specs.put(entry.spec().name(), entry.spec());
				locations.put(entry.spec().name(), new StoredTensor(entry.spec(), 0, entry.offset()));
			}
			Map<String, Moments> tensors = new HashMap<>();
			for (StoredTensor tensor : content.tensors()) {
				Entry entry = find(tensor.spec(), specs);
				if (entry == null || entry.problem() != null) {
					continue;
				}
				tensors.put(tensor.name(), (entry.names().size() == 1)
						? new Moments(locations.get(entry.names().get(0)), null, null)
						: new Moments(null, locations.get(entry.names().get(0)), locations.get(entry.names().get(1))));
			}
			return new SecondMoments(path, Map.copyOf(tensors));
		}
		return null;
	}

	/**
	 * The entry of a weight tensor among the second moments' tensors: by its name, then
	 * the keys ota-merge falls back to, then rank-1 factors; null if there is none.
	 */
	static Entry find(TensorSpec weight, Map<String, TensorSpec> moments) {
		String name = weight.name();
		for (String key : List.of(name, name + ".exp_avg_sq", name.replace("weight", "weight.exp_avg_sq"))) {
			TensorSpec spec = moments.get(key);
			if (spec != null) {
				return new Entry(List.of(key), spec.shape().equals(weight.shape()) ? null : "tensor '" + key
						+ "' has shape " + spec.shape() + ", its weight '" + name + "' " + weight.shape());
			}
		}
		TensorSpec rows = moments.get(name + ROWS);
		TensorSpec columns = moments.get(name + COLUMNS);
		if (rows == null && columns == null) {
			return null;
		}
		List<String> names = List.of(name + ROWS, name + COLUMNS);
		if (weight.shape().size() != 2) {
			return new Entry(names, "rank-1 factors are for matrices; '" + name + "' has shape " + weight.shape());
		}
		if (rows == null || columns == null) {
			return new Entry(names,
					"rank-1 factors of '" + name + "' need both " + name + ROWS + " and " + name + COLUMNS);
		}
		if (!rows.shape().equals(List.of(weight.shape().get(0)))
				|| !columns.shape().equals(List.of(weight.shape().get(1)))) {
			return new Entry(names, "rank-1 factors of '" + name + "' must have shapes [" + weight.shape().get(0)
					+ "] and [" + weight.shape().get(1) + "], not " + rows.shape() + " and " + columns.shape());
		}
		return new Entry(names, null);
	}

}
