package dev.patchbay.composition;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import tools.jackson.databind.SerializationFeature;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.stereotype.Service;

import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactFolders;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Folder;
import dev.patchbay.registry.FolderFile;
import dev.patchbay.registry.ModelCard;
import dev.patchbay.registry.ModelConfigs;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.Sha256;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.SafetensorsWriter;
import dev.patchbay.storage.SegmentedFile;
import dev.patchbay.storage.ShardLayout;

/**
 * A composition as a Hugging Face folder: its base's files ({@code config.json} updated
 * to the output), its weights as shards, the index, and a model card naming the base, the
 * recipe and its digest. A shard of a composition computed whole is a generated header
 * before a byte range of the one output file; of a sharded one, its unit's own file. The
 * layout follows from the plan alone, so a folder is listed, and sized, before it is
 * computed; reading a shard waits for its bytes.
 */
@Service
public class CompositionFolders {

	/** How long a read of a shard waits for the composition to be computed. */
	// Generous on purpose: a download of a queued composition is a valid way to wait for
	// it, and the wait holds a download thread, never a request thread.
	private static final Duration COMPUTE_WAIT = Duration.ofHours(12);

	private static final JsonMapper PRETTY = JsonMapper.builder().enable(SerializationFeature.INDENT_OUTPUT).build();

	private final CompositionRepository compositions;

	private final Compositions service;

	private final Planner planner;

	private final Registry registry;

	private final ArtifactFolders folders;

	private final ShardReads units;

	// Part of every shard's etag: another shard size is another layout, so a client never
	// mixes shards of two layouts.
	private final long shardSize;

	CompositionFolders(CompositionRepository compositions, Compositions service, Planner planner, Registry registry,
			ArtifactFolders folders, CompositionProperties properties, ShardReads units) {
		this.units = units;
		this.compositions = compositions;
		this.service = service;
		this.planner = planner;
		this.registry = registry;
		this.folders = folders;
		this.shardSize = properties.shardSize().toBytes();
	}

	/**
	 * Where a result folder carries its recipe as a mergekit config, as mergekit does.
	 */
	static final String MERGEKIT_CONFIG = "mergekit_config.yml";

	/** The recipe as a mergekit config, where mergekit can express it. */
	private Optional<String> mergekitConfig(Recipe recipe) {
		// A recipe mergekit cannot express (a patch term, a PEFT method) simply has no
		// mergekit_config.yml, rather than failing the folder.
		try {
			return Optional.of(MergekitExport.yaml(recipe, (model) -> this.registry.get(ArtifactType.MODEL, model)));
		}
		catch (dev.patchbay.shared.UnprocessableException ex) {
			return Optional.empty();
		}
	}

	/** The most tensor bytes in one weight shard of any folder. */
	public long shardSize() {
		return this.shardSize;
	}

	/** The Hub repo id of a composition. */
	public static String repoId(UUID id) {
		return "compositions/" + id;
	}

	/**
	 * @throws NotFoundException if no composition has the id
	 */
	public Folder folder(UUID id) {
		Composition composition = find(id);
		Recipe recipe = composition.recipe();
		// Planned from the manifests again, reading no blob: the folder is known before
		// the output exists and costs no compute.
		List<TensorSpec> outputs = this.planner.validate(recipe).outputSpecs();
		long dataStart = SafetensorsWriter.header(outputs, Plan.METADATA).length;
		ShardLayout layout = ShardLayout.of(outputs, this.shardSize);
		// A frankenmerge has as many layers as its slices give, whatever its base had.
		Integer layers = recipe.sliced() ? recipe.slices().stream().mapToInt(Recipe.Slice::layers).sum() : null;
		List<FolderFile> files = new ArrayList<>(
				this.folders.companionFiles(referenceModel(composition), outputs, layers));
		int first = 0;
		for (ShardLayout.Shard shard : layout.shards()) {
			// The recipe digest fixes the bytes, so the etag is known before they are
			// computed and stays valid once they are.
			String etag = Sha256.hex("composition-shard\n" + this.shardSize + "\n" + shard.name() + "\n"
					+ composition.getRecipeDigest());
			int from = first;
			int to = first + shard.tensors().size();
			first = to;
			files.add(new FolderFile(shard.name(), shard.size(), etag, null, true, () -> {
				// A sharded composition's unit is the shard itself, read as soon as it
				// alone is computed.
				Optional<ResultCache.Handle> unit = awaitUnit(id, from, to, shard.size());
				if (unit.isPresent()) {
					ResultCache.Handle handle = unit.get();
					return new FolderFile.Opened(
							new SegmentedFile(List.of(new SegmentedFile.FileRegion(handle.path(), 0, handle.size()))),
							handle::close);
				}
				// Opened only when a shard is read: it pins the computed result, and each
				// shard is its own header followed by a region of the one output file,
				// never a copy.
				Compositions.Result result = this.service.awaitResult(id, COMPUTE_WAIT);
				return new FolderFile.Opened(new SegmentedFile(List.of(new SegmentedFile.Bytes(shard.header()),
						new SegmentedFile.FileRegion(result.path(), dataStart + shard.dataOffset(), shard.dataSize()))),
						result::close);
			}));
		}
		if (layout.sharded()) {
			files.add(ArtifactFolders.generated(ShardLayout.INDEX_FILE, layout.indexJson()));
		}
		mergekitConfig(recipe).ifPresent((yaml) -> files
			.add(ArtifactFolders.generated(MERGEKIT_CONFIG, yaml.getBytes(java.nio.charset.StandardCharsets.UTF_8))));
		files.add(ArtifactFolders.generated(ModelCard.PATH, card(composition, files).render()));
		// The folder's revision depends on the recipe alone, so identical recipes give
		// one Hub revision and a client cache keyed by it stays valid.
		return new Folder(Sha256.hex("composition\n" + composition.getRecipeDigest()).substring(0, 40), files);
	}

	/**
	 * The unit holding a shard's tensors, once computed, or empty to read the shard from
	 * the whole result.
	 */
	private Optional<ResultCache.Handle> awaitUnit(UUID id, int from, int to, long size) throws IOException {
		try {
			Optional<ResultCache.Handle> unit = this.units.await(find(id), from, to, size,
					System.nanoTime() + COMPUTE_WAIT.toNanos());
			if (unit == null) {
				throw new IOException("shard of composition " + id + " not computed within " + COMPUTE_WAIT);
			}
			return unit;
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new InterruptedIOException("interrupted while waiting for a shard of composition " + id);
		}
	}

	/**
	 * Markdown describing a composition's recipe, for the card of a model materialized
	 * from it; empty if the composition is gone.
	 */
	public Optional<String> recipeMarkdown(UUID id) {
		return this.compositions.findById(id).map(this::recipeMarkdown);
	}

	private ModelCard card(Composition composition, List<FolderFile> files) {
		ArtifactDetails base = this.registry.get(ArtifactType.MODEL, referenceModel(composition));
		StringBuilder body = new StringBuilder("Composed by Patchbay as composition `").append(composition.getId())
			.append("`: the base model and ")
			.append(composition.getTerms().size())
			.append((composition.getTerms().size() == 1) ? " patch" : " patches")
			.append(" merged with `")
			.append(composition.getMethod())
			.append("`.\n\n")
			.append(recipeMarkdown(composition))
			.append("\n## Lineage\n\n- base: ")
			.append(ArtifactFolders.describe(base.name(), base.version(), base.id()))
			.append('\n');
		for (Composition.Term term : composition.getTerms()) {
			if (term.patchId() == null) {
				ArtifactDetails model = this.registry.get(ArtifactType.MODEL, term.modelId());
				body.append("- model, weight ")
					.append(term.weight())
					.append(": ")
					.append(ArtifactFolders.describe(model.name(), model.version(), model.id()))
					.append('\n');
				continue;
			}
			ArtifactDetails patch = this.registry.get(ArtifactType.PATCH, term.patchId());
			body.append("- ")
				.append(patch.kind().wireName())
				.append(" patch, weight ")
				.append(term.weight())
				.append(": ")
				.append(ArtifactFolders.describe(patch.name(), patch.version(), patch.id()))
				.append('\n');
		}
		// The card names the transformers library only when the folder can be loaded by
		// it.
		boolean transformers = files.stream().anyMatch((file) -> file.path().equals(ModelConfigs.PATH));
		return new ModelCard(ArtifactFolders.repoId(base.name()), "merge", transformers ? "transformers" : null,
				List.of("patchbay", "merge", composition.getMethod()), "Composition " + composition.getId(),
				body.toString());
	}

	// Ids, not names, in the recipe: names can move to new versions, ids cannot, and the
	// digest below pins the content as well.
	private String recipeMarkdown(Composition composition) {
		Recipe recipe = composition.recipe();
		Map<String, Object> json = new LinkedHashMap<>();
		json.put("baseModelId", recipe.baseModelId());
		json.put("method", recipe.method().wireName());
		json.put("dialect", recipe.dialect().toString().toLowerCase(Locale.ROOT));
		json.put("terms", recipe.terms().stream().map((term) -> {
			Map<String, Object> entry = new LinkedHashMap<>();
			entry.put((term.patchId() != null) ? "patchId" : "modelId",
					(term.patchId() != null) ? term.patchId() : term.modelId());
			entry.put("weight", term.weight());
			if (!term.parameters().isEmpty()) {
				entry.put("parameters", term.parameters().toString());
			}
			return entry;
		}).toList());
		if (!recipe.parameters().isEmpty()) {
			json.put("parameters", recipe.parameters().toString());
		}
		if (recipe.sliced()) {
			json.put("slices", recipe.slices().stream().map((slice) -> {
				Map<String, Object> entry = new LinkedHashMap<>();
				entry.put("sources", slice.sources().stream().map((source) -> {
					Map<String, Object> described = new LinkedHashMap<>();
					described.put("modelId", source.modelId());
					described.put("layerRange", List.of(source.from(), source.to()));
					if (!source.parameters().isEmpty()) {
						described.put("parameters", source.parameters().toString());
					}
					return described;
				}).toList());
				if (!slice.parameters().isEmpty()) {
					entry.put("parameters", slice.parameters().toString());
				}
				return entry;
			}).toList());
		}
		if (recipe.outputDtype() != null) {
			json.put("outputDtype", recipe.outputDtype().name());
		}
		if (recipe.computeDtype() != null) {
			json.put("computeDtype", recipe.computeDtype().name());
		}
		return "## Recipe\n\n```json\n" + PRETTY.writeValueAsString(json) + "\n```\n\nRecipe digest: `"
				+ composition.getRecipeDigest() + "`\n";
	}

	/**
	 * The model whose files and name a result carries: its base, or for a method without
	 * one (linear, karcher, …) its first model term.
	 */
	private static UUID referenceModel(Composition composition) {
		return (composition.getBaseModelId() != null) ? composition.getBaseModelId()
				: composition.getTerms().get(0).modelId();
	}

	private Composition find(UUID id) {
		return this.compositions.findById(id).orElseThrow(() -> CompositionNotFoundException.forId(id));
	}

}
