package dev.patchbay.composition;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.dao.DataIntegrityViolationException;
import org.springframework.data.domain.Page;
import org.springframework.data.domain.Pageable;
import org.springframework.stereotype.Service;
import org.springframework.transaction.support.TransactionTemplate;

import dev.patchbay.registry.Registry;
import dev.patchbay.shared.ConflictException;
import dev.patchbay.shared.ForbiddenException;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.ServiceBusyException;
import dev.patchbay.storage.SegmentedFile;
import dev.patchbay.storage.ShardLayout;

/**
 * Creates compositions, reports their progress and serves their merged weights. A recipe
 * is validated in full before anything is stored; identical recipes share one composition
 * and one result.
 */
@Service
public class Compositions {

	private static final Logger logger = LoggerFactory.getLogger(Compositions.class);

	private final Planner planner;

	private final CompositionRepository compositions;

	private final CompositionScheduler scheduler;

	private final CompositionWorker worker;

	private final LocalResults results;

	private final TransactionTemplate transactions;

	private final JsonMapper json;

	private final Registry registry;

	private final ResultCache cache;

	private final CompositionProperties properties;

	private final PatchAudits audits;

	Compositions(Planner planner, CompositionRepository compositions, CompositionScheduler scheduler,
			CompositionWorker worker, LocalResults results, TransactionTemplate transactions, JsonMapper json,
			Registry registry, ResultCache cache, CompositionProperties properties, PatchAudits audits) {
		this.audits = audits;
		this.properties = properties;
		this.registry = registry;
		this.cache = cache;
		this.planner = planner;
		this.compositions = compositions;
		this.scheduler = scheduler;
		this.worker = worker;
		this.results = results;
		this.transactions = transactions;
		this.json = json;
	}

	/**
	 * A composition and whether this request created it.
	 *
	 * @param composition the composition
	 * @param created false when an identical recipe already existed
	 */
	public record Created(CompositionSummary composition, boolean created) {
	}

	/**
	 * Creates a composition from a mergekit config (YAML) whose models are registered
	 * models; keys it cannot honour are refused by name.
	 */
	public Created createFromMergekit(String yaml) throws IOException {
		return create(new MergekitConfig(this.registry).translate(yaml), false, false);
	}

	/**
	 * A composition's recipe as a mergekit config, which reads back as the same recipe.
	 * @throws NotFoundException if no composition has the id
	 * @throws dev.patchbay.shared.UnprocessableException naming what mergekit cannot
	 * express (a PEFT-dialect method, patch terms, a seed, safeMerge off)
	 */
	public String recipeYaml(UUID id) {
		return MergekitExport.yaml(find(id).recipe(),
				(model) -> this.registry.get(dev.patchbay.registry.ArtifactType.MODEL, model));
	}

	/**
	 * Validates a recipe and creates its composition, or returns the existing one with
	 * the same digest. Computing starts in the background. A recipe with a patch its
	 * audit flags is refused unless an admin acknowledges it, and the acknowledgement is
	 * recorded in the composition.
	 * @param acknowledge whether the caller acknowledges flagged audit findings
	 * @param admin whether the caller is an admin, who alone may acknowledge them
	 * @throws dev.patchbay.shared.InvalidInputException for a malformed recipe
	 * @throws dev.patchbay.registry.ArtifactNotFoundException for an unknown model or
	 * patch
	 * @throws CompositionInvalidException listing every incompatible tensor
	 * @throws dev.patchbay.shared.ServiceBusyException while the shared queue is full
	 * @throws ForbiddenException naming {@code acknowledgeAudit} if a non-admin sends it
	 * @throws dev.patchbay.shared.UnprocessableException naming the flagged layers and
	 * their removed neuron counts, without an acknowledgement
	 */
	public Created create(RecipeDraft draft, boolean acknowledge, boolean admin) throws IOException {
		if (acknowledge && !admin) {
			throw new ForbiddenException(ProblemKind.AUDIT_ACKNOWLEDGEMENT_FORBIDDEN,
					"acknowledgeAudit: only an admin key may acknowledge a patch audit",
					Map.of("field", "acknowledgeAudit", "requiredRole", "admin"));
		}
		String resultName = resultName(draft.output());
		// References resolve here, once: the recipe and its digest hold ids, so moving an
		// alias later makes a new recipe rather than changing this one.
		Recipe recipe = Recipe.from(draft, this.properties.maxTerms(), this.registry::resolve);
		Planner.Validated validated = this.planner.validate(recipe);
		List<PatchAudit> flagged = this.audits.flagged(recipe);
		if (!flagged.isEmpty() && !acknowledge) {
			throw this.audits.refusal(flagged);
		}
		String acknowledgement = flagged.isEmpty() ? null : this.json.writeValueAsString(
				Map.of("acknowledgedAt", Instant.now().toString(), "patches", PatchAudits.findings(flagged)));
		Optional<Composition> existing = this.compositions.findByRecipeDigest(validated.recipeDigest());
		if (existing.isPresent()) {
			recordAcknowledgement(existing.get(), acknowledgement);
			return new Created(reuse(existing.get(), recipe, resultName), false);
		}
		requireQueueRoom();
		Composition composition = new Composition(recipe, validated.recipeDigest(), validated.tensors(),
				validated.outputBytes());
		composition.nameResult(resultName);
		composition.acknowledgeAudit(acknowledgement);
		// A composition larger than one shard is queued as one unit per shard, in the
		// transaction that stores it, so that no worker ever sees it without its units;
		// unless it is to be materialized (its whole file goes into the blob store as
		// one)
		// or its method reads the whole model before writing any tensor.
		ShardLayout layout = ShardLayout.of(validated.outputSpecs(), this.properties.shardSize().toBytes());
		try {
			this.transactions.executeWithoutResult((status) -> {
				this.compositions.saveAndFlush(composition);
				if (layout.sharded() && !recipe.materialize() && !PlanExecutor.wholeModel(recipe.method())) {
					this.scheduler.queueUnits(composition.getId(), layout);
				}
			});
		}
		catch (DataIntegrityViolationException ex) {
			// A concurrent request stored the same recipe first: share its composition.
			Optional<Composition> winner = this.compositions.findByRecipeDigest(validated.recipeDigest());
			if (winner.isPresent()) {
				recordAcknowledgement(winner.get(), acknowledgement);
				return new Created(reuse(winner.get(), recipe, resultName), false);
			}
			// Otherwise an input was deleted meanwhile: validating again names it (404).
			this.planner.validate(recipe);
			throw ex;
		}
		this.scheduler.submit(composition.getId());
		return new Created(summary(composition), true);
	}

	/**
	 * An existing composition of a flagged recipe, stored before the policy flagged it,
	 * records the acknowledgement that now lets it be requested.
	 */
	private void recordAcknowledgement(Composition composition, String acknowledgement) {
		if (acknowledgement == null || composition.getAuditAcknowledgement() != null) {
			return;
		}
		this.transactions.executeWithoutResult((status) -> {
			Composition current = this.compositions.lockById(composition.getId()).orElseThrow();
			if (current.getAuditAcknowledgement() == null) {
				current.acknowledgeAudit(acknowledgement);
			}
		});
	}

	/**
	 * The name a request gives its result, checked as an upload's name is.
	 * @throws InvalidInputException if it is malformed or contradicts materialize
	 */
	private static String resultName(RecipeDraft.Output request) {
		String name = request.resultName();
		if (name == null) {
			return null;
		}
		if (name.isBlank() || name.length() > 200 || name.contains("@")
				|| name.chars().anyMatch(Character::isISOControl)) {
			throw new InvalidInputException(ProblemKind.INVALID_RECIPE,
					"resultName: must have 1 to 200 characters, no '@' nor control characters",
					Map.of("field", "resultName"));
		}
		if (Boolean.FALSE.equals(request.materialize())) {
			throw new InvalidInputException(ProblemKind.INVALID_RECIPE,
					"resultName: names a registered result; it cannot go with materialize false",
					Map.of("field", "resultName"));
		}
		return name;
	}

	/**
	 * Refuses a recipe to queue while the shared queue is full.
	 * @throws ServiceBusyException with when to try again
	 */
	private void requireQueueRoom() {
		if (this.compositions.countByStatus(CompositionStatus.PENDING) >= this.properties.maxQueued()) {
			// Counted, not locked: concurrent requests may pass the bound by a few.
			throw new ServiceBusyException(ProblemKind.COMPOSITIONS_BUSY,
					"the queue holds " + this.properties.maxQueued()
							+ " compositions waiting for a worker (patchbay.composition.max-queued); try again later",
					this.properties.pollInterval().multipliedBy(5), Map.of("limit", this.properties.maxQueued()));
		}
	}

	/**
	 * A known recipe asked to be materialized is materialized, now if it is already ready
	 * (its result stored durably first); a result name is recorded unless it has another;
	 * a cancelled composition is queued again.
	 */
	private CompositionSummary reuse(Composition composition, Recipe recipe, String resultName) throws IOException {
		boolean materialize = recipe.materialize() && !composition.isMaterialize();
		boolean requeue = composition.getStatus() == CompositionStatus.CANCELLED;
		if (requeue) {
			requireQueueRoom();
		}
		boolean[] requeued = { false };
		if (materialize || requeue || resultName != null) {
			// Decided under the row's lock, on its current status: of concurrent requests
			// one materializes a ready result (or marks a running one, which its job then
			// materializes under the same lock), and the others find it done.
			try {
				this.transactions.executeWithoutResult((status) -> {
					Composition current = this.compositions.lockById(composition.getId()).orElseThrow();
					current.nameResult(resultName);
					if (current.getStatus() == CompositionStatus.CANCELLED) {
						current.requeue();
						requeued[0] = true;
					}
					if (!recipe.materialize() || current.isMaterialize()) {
						return;
					}
					current.requestMaterialization();
					if (current.getStatus() == CompositionStatus.READY) {
						try {
							current.materialized(this.results.materializeReady(current));
						}
						catch (IOException ex) {
							throw new UncheckedIOException(ex);
						}
					}
				});
			}
			catch (UncheckedIOException ex) {
				throw ex.getCause();
			}
		}
		if (requeued[0]) {
			this.scheduler.submit(composition.getId());
		}
		return get(composition.getId());
	}

	/**
	 * Cancels a queued or running composition. The row says cancelled at once; a worker
	 * computing it, here or on another instance, stops at its next chunk and drops what
	 * it wrote.
	 * @return the composition, and whether it was running (its worker may not have
	 * stopped yet)
	 * @throws NotFoundException if no composition has the id
	 * @throws ConflictException if it is already ready or failed
	 */
	public Cancelled cancel(UUID id) {
		CompositionStatus before = this.transactions.execute((status) -> {
			Composition current = this.compositions.lockById(id)
				.orElseThrow(() -> CompositionNotFoundException.forId(id));
			CompositionStatus was = current.getStatus();
			if (was == CompositionStatus.READY || was == CompositionStatus.FAILED) {
				throw new ConflictException(ProblemKind.COMPOSITION_FINISHED,
						"composition " + id + " is " + was.wireName()
								+ "; only a pending or running one can be cancelled",
						Map.of("compositionId", id.toString(), "status", was.wireName()));
			}
			if (was.isActive()) {
				current.cancel();
			}
			return was;
		});
		if (before == CompositionStatus.RUNNING) {
			this.scheduler.cancelled(id);
		}
		return new Cancelled(get(id), before == CompositionStatus.RUNNING);
	}

	/**
	 * A cancelled composition.
	 *
	 * @param composition the composition, now cancelled
	 * @param wasRunning whether a worker was computing it
	 */
	public record Cancelled(CompositionSummary composition, boolean wasRunning) {
	}

	/** One page of compositions in the page's order, of one status or, when null, all. */
	public Page<CompositionSummary> list(CompositionStatus status, Pageable pageable) {
		Page<Composition> page = (status != null) ? this.compositions.findByStatus(status, pageable)
				: this.compositions.findAll(pageable);
		return page.map(this::summary);
	}

	/**
	 * @throws NotFoundException if no composition has the id
	 */
	public CompositionSummary get(UUID id) {
		return summary(find(id));
	}

	/**
	 * The merged weights: the cached result once ready, else a stream that follows the
	 * computation as it writes. Close it once the bytes are sent: a cached result stays
	 * pinned in the cache until then.
	 *
	 * @param etag the recipe digest
	 * @param size the file size, known before compute
	 * @param stored the cached result, else null
	 * @param live without a cached result, writes the whole file as it is produced
	 * @param release releases the cached result
	 */
	public record Weights(String etag, long size, SegmentedFile stored, LiveStream live,
			Runnable release) implements AutoCloseable {

		@Override
		public void close() {
			this.release.run();
		}

	}

	/** Writes a file that is still being produced. */
	@FunctionalInterface
	public interface LiveStream {

		void writeTo(OutputStream out) throws IOException;

	}

	/**
	 * The merged weights of a composition. A ready result that this instance's cache
	 * lacks is recomputed here and streamed as it is; its last byte is held back until it
	 * matches the digest recorded when it was first computed.
	 * @throws NotFoundException if no composition has the id
	 * @throws ConflictException if the composition failed
	 */
	public Weights weights(UUID id) {
		Composition composition = find(id);
		if (composition.getStatus() == CompositionStatus.FAILED) {
			throw CompositionFailedException.forId(id);
		}
		if (composition.getStatus() == CompositionStatus.CANCELLED) {
			throw cancelledConflict(id);
		}
		if (composition.getStatus() != CompositionStatus.READY) {
			return new Weights(composition.getRecipeDigest(), composition.getBytesTotal(), null,
					(out) -> follow(id, composition.getBytesTotal(), out), () -> {
					});
		}
		try {
			while (true) {
				LocalResults.Cached cached = this.results.cachedOrRefill(composition);
				if (cached.handle() != null) {
					ResultCache.Handle handle = cached.handle();
					return new Weights(composition.getRecipeDigest(), composition.getBytesTotal(),
							new SegmentedFile(List.of(new SegmentedFile.FileRegion(handle.path(), 0, handle.size()))),
							null, handle::close);
				}
				// Pinned now, so that the refill cannot finish and be evicted before the
				// response streams it.
				Optional<ResultCache.Handle> pin = cached.refill().pin();
				if (pin.isPresent()) {
					return new Weights(composition.getRecipeDigest(), composition.getBytesTotal(), null,
							(out) -> stream(id, cached.refill(), out), pin.get()::close);
				}
			}
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	private static ConflictException cancelledConflict(UUID id) {
		return new ConflictException(ProblemKind.COMPOSITION_CANCELLED,
				"composition " + id + " was cancelled; post its recipe again to queue it anew",
				Map.of("compositionId", id.toString()));
	}

	/**
	 * Streams the output as this instance computes it, or the result once ready (computed
	 * here or elsewhere).
	 */
	private void follow(UUID id, long total, OutputStream out) throws IOException {
		try {
			while (true) {
				Optional<LiveOutput> live = this.worker.live(id);
				if (live.isPresent() && followOrRead(id, live.get(), out)) {
					return;
				}
				Composition composition = find(id);
				if (composition.getStatus() == CompositionStatus.READY) {
					try (Weights weights = weights(id)) {
						if (weights.stored() != null) {
							weights.stored().transferTo(out, 0, total);
						}
						else {
							weights.live().writeTo(out);
						}
					}
					return;
				}
				if (composition.getStatus() == CompositionStatus.FAILED) {
					throw new IOException("composition " + id + " failed");
				}
				if (composition.getStatus() == CompositionStatus.CANCELLED) {
					throw new IOException("composition " + id + " was cancelled");
				}
				Thread.sleep(50);
			}
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new InterruptedIOException("interrupted while streaming composition " + id);
		}
	}

	/**
	 * Streams a live output with a pin on its cache entry.
	 * @return false if the output was already gone and nothing was written
	 */
	private boolean followOrRead(UUID id, LiveOutput live, OutputStream out) throws IOException {
		Optional<ResultCache.Handle> pin = live.pin();
		if (pin.isEmpty()) {
			return false;
		}
		try (ResultCache.Handle pinned = pin.get()) {
			stream(id, live, out);
			return true;
		}
	}

	/** Streams a live output whose cache entry the caller has pinned. */
	private void stream(UUID id, LiveOutput live, OutputStream out) throws IOException {
		try (FileChannel source = live.open()) {
			long position = 0;
			while (position < live.total()) {
				long available = live.awaitBeyond(position);
				SegmentedFile.copy(source, position, available - position, out);
				position = available;
				out.flush();
			}
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new InterruptedIOException("interrupted while streaming composition " + id);
		}
	}

	/**
	 * A composition's result, pinned in the local cache while it is open.
	 */
	public static final class Result implements AutoCloseable {

		private final ResultCache.Handle handle;

		private Result(ResultCache.Handle handle) {
			this.handle = handle;
		}

		/** The local file that holds the result; valid until closed. */
		public Path path() {
			return this.handle.path();
		}

		@Override
		public void close() {
			this.handle.close();
		}

	}

	/**
	 * Waits for a composition's result, computing it if it is still queued (or
	 * recomputing it if this instance's cache lacks it), and pins it for the caller.
	 * Close the result when done reading it.
	 * @throws NotFoundException if no composition has the id
	 * @throws ConflictException if it failed, or is not ready within the timeout
	 */
	public Result awaitResult(UUID id, Duration timeout) {
		long deadline = System.nanoTime() + timeout.toNanos();
		try {
			while (true) {
				Composition composition = find(id);
				if (composition.getStatus() == CompositionStatus.FAILED) {
					throw CompositionFailedException.forId(id);
				}
				if (composition.getStatus() == CompositionStatus.CANCELLED) {
					throw cancelledConflict(id);
				}
				ResultCache.Handle handle = null;
				if (composition.getStatus() == CompositionStatus.READY) {
					handle = this.results.awaitCached(composition, deadline);
				}
				else {
					handle = awaitLive(id, deadline);
				}
				if (handle != null) {
					return new Result(handle);
				}
				if (System.nanoTime() > deadline) {
					throw new ConflictException(ProblemKind.COMPOSITION_NOT_READY,
							"composition " + id + " is still " + find(id).getStatus().wireName(),
							Map.of("compositionId", id.toString()));
				}
				Thread.sleep(25);
			}
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException("interrupted while waiting for composition " + id, ex);
		}
	}

	/**
	 * Pins the output of a composition being computed here once its last byte is written,
	 * without waiting for it to be stored; null if it is not computed here.
	 */
	private ResultCache.Handle awaitLive(UUID id, long deadline) throws IOException, InterruptedException {
		Optional<LiveOutput> live = this.worker.live(id);
		Optional<ResultCache.Handle> pin = live.flatMap(LiveOutput::pin);
		if (pin.isEmpty()) {
			return null;
		}
		try {
			if (live.get().awaitFinished(deadline)) {
				return pin.get();
			}
		}
		catch (IOException ex) {
			// The job records the failure; the composition's status tells it.
			logger.debug("Composition {} failed while awaited", id, ex);
		}
		pin.get().close();
		return null;
	}

	/**
	 * Deletes a composition; its result blob goes too unless something else (a model
	 * materialized from it) still uses it.
	 * @throws ConflictException while it is still computing
	 */
	public void delete(UUID id) throws IOException {
		Composition composition = find(id);
		if (composition.getStatus().isActive()) {
			throw new ConflictException(ProblemKind.COMPOSITION_RUNNING,
					"composition " + id + " is still " + composition.getStatus().wireName()
							+ "; cancel it first (POST /api/v1/compositions/" + id + "/cancel)",
					Map.of("compositionId", id.toString()));
		}
		this.compositions.delete(composition);
		this.compositions.flush();
		this.cache.remove(composition.getRecipeDigest());
		if (composition.getResultDigest() != null) {
			this.registry.releaseBlob(composition.getResultDigest());
		}
	}

	private Composition find(UUID id) {
		return this.compositions.findById(id).orElseThrow(() -> CompositionNotFoundException.forId(id));
	}

	private CompositionSummary summary(Composition composition) {
		Optional<LiveOutput> live = this.worker.live(composition.getId());
		CompositionSummary.Progress progress = live
			.map((output) -> new CompositionSummary.Progress(output.tensorsDone(), composition.getTensorsTotal(),
					output.written(), composition.getBytesTotal()))
			.orElseGet(() -> new CompositionSummary.Progress(composition.getTensorsDone(),
					composition.getTensorsTotal(), composition.getBytesDone(), composition.getBytesTotal()));
		return new CompositionSummary(composition.getId(), composition.getRecipeDigest(), composition.getStatus(),
				progress, composition.getBaseModelId(),
				composition.getTerms()
					.stream()
					.map((term) -> new CompositionSummary.Term(term.patchId(), term.weight(), term.modelId(),
							term.sliceIndex(), term.layerFrom(), term.layerTo()))
					.toList(),
				composition.getMethod(), composition.isMaterialize(), composition.getResultModelId(),
				composition.getError(), composition.getCreatedAt(), composition.getStartedAt(),
				composition.getFinishedAt(), composition.getResultName(), composition.getAuditAcknowledgement());
	}

}
