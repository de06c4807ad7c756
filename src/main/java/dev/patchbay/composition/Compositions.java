package dev.patchbay.composition;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import tools.jackson.databind.json.JsonMapper;

import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.registry.Registry;
import dev.patchbay.shared.ConflictException;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.storage.BlobStore;
import dev.patchbay.storage.SegmentedFile;

/**
 * Creates compositions, reports their progress and serves their merged weights. A recipe
 * is validated in full before anything is stored; identical recipes share one composition
 * and one result.
 */
@Service
public class Compositions {

	private final Planner planner;

	private final CompositionRepository compositions;

	private final CompositionJobs jobs;

	private final BlobStore blobs;

	private final TransactionTemplate transactions;

	private final JsonMapper json;

	private final Registry registry;

	Compositions(Planner planner, CompositionRepository compositions, CompositionJobs jobs, BlobStore blobs,
			TransactionTemplate transactions, JsonMapper json, Registry registry) {
		this.registry = registry;
		this.planner = planner;
		this.compositions = compositions;
		this.jobs = jobs;
		this.blobs = blobs;
		this.transactions = transactions;
		this.json = json;
	}

	/**
	 * A composition and whether this request created it.
	 *
	 * @param view the composition
	 * @param created false when an identical recipe already existed
	 */
	public record Created(CompositionView view, boolean created) {
	}

	/**
	 * Validates a recipe and creates its composition, or returns the existing one with
	 * the same digest. Computing starts in the background.
	 * @throws dev.patchbay.shared.InvalidInputException for a malformed recipe
	 * @throws dev.patchbay.registry.ArtifactNotFoundException for an unknown model or
	 * patch
	 * @throws CompositionInvalidException listing every incompatible tensor
	 */
	public Created create(CompositionRequest request) throws IOException {
		Recipe recipe = Recipe.from(request);
		Planner.Planned planned = this.planner.plan(recipe);
		Optional<Composition> existing = this.compositions.findByRecipeDigest(planned.recipeDigest());
		if (existing.isPresent()) {
			return new Created(reuse(existing.get(), recipe), false);
		}
		Composition composition = new Composition(recipe, planned.recipeDigest(), planned.plan().tensors().size(),
				planned.plan().outputBytes());
		try {
			this.compositions.saveAndFlush(composition);
		}
		catch (DataIntegrityViolationException ex) {
			// A concurrent request stored the same recipe first: share its composition.
			return new Created(
					reuse(this.compositions.findByRecipeDigest(planned.recipeDigest()).orElseThrow(), recipe), false);
		}
		this.jobs.submit(composition.getId());
		return new Created(view(composition), true);
	}

	/**
	 * A known recipe asked to be materialized is materialized, now if it is already
	 * ready.
	 */
	private CompositionView reuse(Composition composition, Recipe recipe) throws IOException {
		if (recipe.materialize() && !composition.isMaterialize()) {
			UUID modelId = (composition.getStatus() == CompositionStatus.READY)
					? this.jobs.materialize(composition, composition.getResultDigest()) : null;
			this.transactions.executeWithoutResult((status) -> {
				Composition current = this.compositions.findById(composition.getId()).orElseThrow();
				current.requestMaterialization();
				if (modelId != null) {
					current.materialized(modelId);
				}
			});
		}
		return get(composition.getId());
	}

	/**
	 * @throws NotFoundException if no composition has the id
	 */
	public CompositionView get(UUID id) {
		return view(find(id));
	}

	/**
	 * The merged weights: the stored result once ready, else a stream that follows the
	 * computation as it writes.
	 *
	 * @param etag the recipe digest
	 * @param size the file size, known before compute
	 * @param stored the cached result when ready, else null
	 * @param live for a composition still computing, writes the whole file as it is
	 * produced
	 */
	public record Weights(String etag, long size, SegmentedFile stored, LiveStream live) {
	}

	/** Writes a file that is still being produced. */
	@FunctionalInterface
	public interface LiveStream {

		void writeTo(OutputStream out) throws IOException;

	}

	/**
	 * @throws NotFoundException if no composition has the id
	 * @throws ConflictException if the composition failed
	 */
	public Weights weights(UUID id) {
		Composition composition = find(id);
		if (composition.getStatus() == CompositionStatus.FAILED) {
			throw new ConflictException("composition-failed", "Composition failed",
					"composition " + id + " failed; see its error", Map.of("compositionId", id.toString()));
		}
		if (composition.getStatus() == CompositionStatus.READY) {
			return new Weights(composition.getRecipeDigest(), composition.getBytesTotal(),
					new SegmentedFile(
							List.of(new SegmentedFile.FileRegion(this.blobs.localPath(composition.getResultDigest()), 0,
									composition.getBytesTotal()))),
					null);
		}
		return new Weights(composition.getRecipeDigest(), composition.getBytesTotal(), null,
				(out) -> follow(id, composition.getBytesTotal(), out));
	}

	/**
	 * Streams the output as the worker writes it, or the stored result if it finished
	 * first.
	 */
	private void follow(UUID id, long total, OutputStream out) throws IOException {
		try {
			LiveOutput live;
			while ((live = this.jobs.live(id).orElse(null)) == null) {
				Composition composition = find(id);
				if (composition.getStatus() == CompositionStatus.READY) {
					weights(id).stored().transferTo(out, 0, total);
					return;
				}
				if (composition.getStatus() == CompositionStatus.FAILED) {
					throw new IOException("composition " + id + " failed");
				}
				Thread.sleep(50);
			}
			try (FileChannel source = live.open()) {
				long position = 0;
				while (position < total) {
					long available = live.awaitBeyond(position);
					SegmentedFile.copy(source, position, available - position, out);
					position = available;
					out.flush();
				}
			}
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new InterruptedIOException("interrupted while streaming composition " + id);
		}
	}

	/**
	 * Waits for a composition's result, computing it if it is still queued, and returns
	 * the local file that holds it.
	 * @throws NotFoundException if no composition has the id
	 * @throws ConflictException if it failed, or is not ready within the timeout
	 */
	public Path awaitResult(UUID id, Duration timeout) {
		long deadline = System.nanoTime() + timeout.toNanos();
		while (true) {
			Composition composition = find(id);
			switch (composition.getStatus()) {
				case READY:
					return this.blobs.localPath(composition.getResultDigest());
				case FAILED:
					throw new ConflictException("composition-failed", "Composition failed",
							"composition " + id + " failed; see its error", Map.of("compositionId", id.toString()));
				default:
					if (System.nanoTime() > deadline) {
						throw new ConflictException("composition-not-ready", "Composition not ready",
								"composition " + id + " is still " + composition.getStatus().wireName(),
								Map.of("compositionId", id.toString()));
					}
					try {
						Thread.sleep(25);
					}
					catch (InterruptedException ex) {
						Thread.currentThread().interrupt();
						throw new IllegalStateException("interrupted while waiting for composition " + id, ex);
					}
			}
		}
	}

	/**
	 * Deletes a composition; its result blob goes too unless something else (a model
	 * materialized from it) still uses it.
	 * @throws ConflictException while it is still computing
	 */
	public void delete(UUID id) throws IOException {
		Composition composition = find(id);
		if (composition.getStatus() == CompositionStatus.PENDING
				|| composition.getStatus() == CompositionStatus.RUNNING) {
			throw new ConflictException("composition-running", "Composition still running",
					"composition " + id + " is still " + composition.getStatus().wireName(),
					Map.of("compositionId", id.toString()));
		}
		this.compositions.delete(composition);
		this.compositions.flush();
		if (composition.getResultDigest() != null) {
			this.registry.releaseBlob(composition.getResultDigest());
		}
	}

	private Composition find(UUID id) {
		return this.compositions.findById(id)
			.orElseThrow(() -> new NotFoundException("composition-not-found", "Composition not found",
					"no composition has id " + id, Map.of("id", id.toString())));
	}

	private CompositionView view(Composition composition) {
		Optional<LiveOutput> live = this.jobs.live(composition.getId());
		CompositionView.Progress progress = live
			.map((output) -> new CompositionView.Progress(output.tensorsDone(), composition.getTensorsTotal(),
					output.written(), composition.getBytesTotal()))
			.orElseGet(() -> new CompositionView.Progress(composition.getTensorsDone(), composition.getTensorsTotal(),
					composition.getBytesDone(), composition.getBytesTotal()));
		return new CompositionView(composition.getId(), composition.getRecipeDigest(), composition.getStatus(),
				progress, composition.getBaseModelId(),
				composition.getTerms()
					.stream()
					.map((term) -> new CompositionView.Term(term.patchId(), term.weight()))
					.toList(),
				composition.getMethod(), composition.isMaterialize(), composition.getResultModelId(),
				(composition.getError() != null) ? this.json.readTree(composition.getError()) : null,
				composition.getCreatedAt(), composition.getStartedAt(), composition.getFinishedAt());
	}

}
