package dev.patchbay.inference;

import java.io.IOException;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.sql.Types;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.Pageable;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;

import dev.patchbay.composition.MergedDeltas;
import dev.patchbay.composition.RecipeDraft;
import dev.patchbay.engine.GraphModel;
import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.GraphSignature;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemBodies;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.ServiceBusyException;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.BlobPins;

/**
 * Strength sweeps: every combination of the terms' weights is composed in memory and
 * evaluated on every split of a dataset. The base model is loaded once per sweep, into a
 * graph of the sweep's own (on the GPU when there is one), and only the touched tensors'
 * merged deltas are re-applied at each grid point; no composition or model is registered.
 * Progress and results are stored in PostgreSQL after every grid point, so every replica
 * answers for them.
 */
@Service
public class Sweeps implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(Sweeps.class);

	/** Statuses, in the order a sweep passes through them. */
	public static final List<String> STATUSES = List.of("queued", "running", "done", "failed");

	private static final String MEAN = "mean";

	private static final String MIN = "min";

	private final LoadedModels models;

	private final Registry registry;

	private final MergedDeltas deltas;

	private final InferenceProperties properties;

	private final JsonMapper json;

	private final JdbcClient jdbc;

	private final ProblemBodies problems;

	/**
	 * One sweep at a time, with a bounded queue in front: a sweep holds a private copy of
	 * its base model, so running several at once would multiply the memory.
	 */
	private final ExecutorService worker;

	private final Leases leases;

	/**
	 * Set at shutdown, before the worker is interrupted: a sweep that fails then was
	 * stopped, not at fault, and is handed back to be taken over.
	 */
	private volatile boolean closing;

	Sweeps(LoadedModels models, Registry registry, MergedDeltas deltas, InferenceProperties properties, JsonMapper json,
			JdbcClient jdbc, Leases leases, ProblemBodies problems) {
		this.models = models;
		this.registry = registry;
		this.deltas = deltas;
		this.properties = properties;
		this.json = json;
		this.jdbc = jdbc;
		this.problems = problems;
		this.worker = Workers.single("sweep-worker", properties.maxQueuedEvaluations());
		this.leases = leases;
		leases.onLapsed(Leases.SWEEP, this::takeOver);
	}

	/**
	 * Validates the sweep in full and queues it; it runs in the background.
	 * @throws SweepInvalidException or another 400 problem naming the field at fault
	 * @throws SweepTooLargeException if the grid has more points than the limit
	 * @throws NotFoundException for an unknown model, patch or dataset
	 * @throws UnprocessableException if the base has no graph or a patch does not fit it
	 */
	public SweepSummary create(SweepDraft request) {
		if (request.baseModelId() == null) {
			throw SweepInvalidException.forField("baseModelId", "is required");
		}
		List<double[]> grid = grid(request.terms());
		if (request.datasetId() == null) {
			throw SweepInvalidException.forField("datasetId", "is required");
		}
		if (request.inputs() == null || request.inputs().isEmpty()) {
			throw SweepInvalidException.forField("inputs", "must list at least one dataset tensor, one per split");
		}
		Set<String> seen = new HashSet<>();
		for (int i = 0; i < request.inputs().size(); i++) {
			if (request.inputs().get(i) != null && !seen.add(request.inputs().get(i))) {
				throw SweepInvalidException.forField("inputs[" + i + "]",
						"'" + request.inputs().get(i) + "' is listed twice");
			}
		}
		SweepDraft.Objective objective = objective(request);
		int batchSize = (request.batchSize() != null) ? request.batchSize() : this.properties.evaluationBatchSize();
		if (batchSize < 1 || batchSize > this.properties.maxEvaluationBatchSize()) {
			throw SweepInvalidException.forField("batchSize", "must be between 1 and "
					+ this.properties.maxEvaluationBatchSize() + " (patchbay.inference.max-evaluation-batch-size)");
		}
		// The recipe as a composition would check it, at the first grid point: every
		// weight is a valid float32 already, so the others plan the same.
		SweepDraft resolved = resolved(request, objective, batchSize);
		this.deltas.check(recipe(resolved, grid.get(0)));
		if (!this.models.ready(resolved.baseModelId())) {
			throw new UnprocessableException(ProblemKind.NO_GRAPH,
					"model " + resolved.baseModelId() + " has no TorchScript graph; attach one with PUT /api/v1/models/"
							+ resolved.baseModelId() + "/graph",
					Map.of("field", "baseModelId"));
		}
		// The dataset's blobs stay pinned until the sweep ends, on the worker.
		BlobPins pins = this.registry.pins();
		try {
			return start(resolved, grid, pins);
		}
		catch (RuntimeException ex) {
			pins.close();
			throw ex;
		}
	}

	/**
	 * The request with its references resolved to ids and its defaults filled in, as it
	 * is stored and run.
	 */
	private SweepDraft resolved(SweepDraft request, SweepDraft.Objective objective, int batchSize) {
		List<SweepDraft.Term> terms = new ArrayList<>();
		for (int i = 0; i < request.terms().size(); i++) {
			SweepDraft.Term term = request.terms().get(i);
			terms.add(new SweepDraft.Term(
					this.registry.resolve(ArtifactType.PATCH, term.patchId(), "terms[" + i + "].patchId").toString(),
					term.weights()));
		}
		return new SweepDraft(
				this.registry.resolve(ArtifactType.MODEL, request.baseModelId(), "baseModelId").toString(), terms,
				request.method(), request.density(), request.majoritySign(), request.seed(),
				this.registry.resolve(ArtifactType.DATASET, request.datasetId(), "datasetId").toString(),
				request.inputs(), request.labels(), objective, batchSize);
	}

	/**
	 * What a sweep reads as it runs: its dataset's splits and labels, checked against the
	 * base's graph.
	 */
	private record Inputs(ArtifactContent dataset, List<StoredTensor> splits, StoredTensor labels) {
	}

	private Inputs inputs(SweepDraft request, BlobPins pins) {
		int batchSize = request.batchSize();
		ArtifactContent dataset = this.registry.content(ArtifactType.DATASET, UUID.fromString(request.datasetId()),
				pins);
		GraphSignature signature = this.models.signature(request.baseModelId());
		List<StoredTensor> splits = new ArrayList<>();
		for (int i = 0; i < request.inputs().size(); i++) {
			String field = "inputs[" + i + "]";
			StoredTensor split = Evaluations.inputsOf(dataset, field, request.inputs().get(i));
			Evaluations.checkAgainstSignature(split, field, signature);
			Evaluations.checkBatch(split, batchSize, this.properties);
			splits.add(split);
		}
		long rows = splits.get(0).spec().shape().get(0);
		for (int i = 1; i < splits.size(); i++) {
			if (splits.get(i).spec().shape().get(0) != rows) {
				throw SweepInvalidException.forField("inputs[" + i + "]",
						"tensor '" + splits.get(i).name() + "' has " + splits.get(i).spec().shape().get(0)
								+ " rows, not " + rows + " as the first split: every split shares the labels");
			}
		}
		return new Inputs(dataset, splits, Evaluations.labelsOf(dataset, "labels", request.labels(), rows));
	}

	private SweepSummary start(SweepDraft request, List<double[]> grid, BlobPins pins) {
		Inputs inputs = inputs(request, pins);
		UUID id = UUID.randomUUID();
		this.jdbc.sql("""
				insert into sweep (id, status, request, points_done, points_total, created_at, claimed_by, heartbeat_at)
				values (:id, 'queued', :request, 0, :total, now(), :me, now())""")
			.param("id", id)
			.param("request", this.json.writeValueAsString(request))
			.param("total", grid.size())
			.param("me", this.leases.instanceId())
			.update();
		this.leases.hold(Leases.SWEEP, id);
		try {
			submit(id, request, grid, inputs, pins);
		}
		catch (RejectedExecutionException ex) {
			// Refused whole: the row goes, so the refusal leaves no trace.
			this.leases.release(Leases.SWEEP, id);
			this.jdbc.sql("delete from sweep where id = :id").param("id", id).update();
			throw new ServiceBusyException(ProblemKind.SWEEPS_BUSY,
					"the queue of sweeps is full (" + this.properties.maxQueuedEvaluations()
							+ ", patchbay.inference.max-queued-evaluations); try again later",
					Duration.ofSeconds(30), Map.of("limit", this.properties.maxQueuedEvaluations()));
		}
		return get(id);
	}

	/** Queues the sweep from its first grid point; the worker owns the pins. */
	private void submit(UUID id, SweepDraft request, List<double[]> grid, Inputs inputs, BlobPins pins) {
		this.worker.execute(() -> this.leases.runHeld(Leases.SWEEP, id, () -> {
			try (pins) {
				run(id, request, grid, inputs, 0);
			}
		}, this::failed));
	}

	/**
	 * Queues a sweep whose replica is gone; called on the lease ticker, so what it reads
	 * (the dataset perhaps from S3) is read on the worker.
	 */
	private void takeOver(UUID id) {
		try {
			this.worker.execute(() -> this.leases.runHeld(Leases.SWEEP, id, () -> resume(id), this::failed));
		}
		catch (RejectedExecutionException ex) {
			// No room here now: the lease lapses again, and a replica with room (or this
			// one, later) takes the sweep.
			this.leases.release(Leases.SWEEP, id);
		}
	}

	/**
	 * Goes on with a sweep taken over, from its first grid point without a stored result:
	 * the request was checked in full when it was made, and is read back with the ids its
	 * references resolved to. What it reads may be gone (the dataset was deleted, say):
	 * the sweep then fails with that problem, as it would have where it started.
	 */
	private void resume(UUID id) throws IOException {
		Map<String, Object> row = this.jdbc.sql("select request, points_done from sweep where id = :id")
			.param("id", id)
			.query()
			.singleRow();
		try (BlobPins pins = this.registry.pins()) {
			SweepDraft request = this.json.readValue((String) row.get("request"), SweepDraft.class);
			run(id, request, grid(request.terms()), inputs(request, pins), (Integer) row.get("points_done"));
		}
	}

	/**
	 * Every combination of the terms' weights, the first term's slowest.
	 * @throws SweepInvalidException for a missing term, patch or weight
	 * @throws SweepTooLargeException beyond the configured number of points
	 */
	private List<double[]> grid(List<SweepDraft.Term> terms) {
		if (terms == null || terms.isEmpty()) {
			throw SweepInvalidException.forField("terms", "must list at least one patch with its weights");
		}
		long points = 1;
		for (int i = 0; i < terms.size(); i++) {
			SweepDraft.Term term = terms.get(i);
			if (term == null || term.patchId() == null) {
				throw SweepInvalidException.forField("terms[" + i + "].patchId", "is required");
			}
			if (term.weights() == null || term.weights().isEmpty()) {
				throw SweepInvalidException.forField("terms[" + i + "].weights", "must list at least one weight");
			}
			for (int j = 0; j < term.weights().size(); j++) {
				Double weight = term.weights().get(j);
				// Weights scale float32 deltas, so they must be finite as float32 too.
				if (weight == null || !Float.isFinite(weight.floatValue())) {
					throw SweepInvalidException.forField("terms[" + i + "].weights[" + j + "]",
							"must be a finite number of magnitude at most " + Float.MAX_VALUE + " (float32)");
				}
			}
			// Saturates rather than overflows: any product past the limit is refused.
			points = Math.min(points * term.weights().size(), Integer.MAX_VALUE);
		}
		if (points > this.properties.maxSweepPoints()) {
			throw SweepTooLargeException.of(points, this.properties.maxSweepPoints());
		}
		List<double[]> grid = new ArrayList<>();
		for (int point = 0; point < points; point++) {
			double[] weights = new double[terms.size()];
			int rest = point;
			for (int i = terms.size() - 1; i >= 0; i--) {
				List<Double> options = terms.get(i).weights();
				weights[i] = options.get(rest % options.size());
				rest /= options.size();
			}
			grid.add(weights);
		}
		return grid;
	}

	private static SweepDraft.Objective objective(SweepDraft request) {
		if (request.objective() == null) {
			return new SweepDraft.Objective(MEAN);
		}
		String maximize = request.objective().maximize();
		if (maximize == null) {
			throw SweepInvalidException.forField("objective.maximize",
					"is required: mean, min or one of the inputs " + request.inputs());
		}
		if (!maximize.equals(MEAN) && !maximize.equals(MIN) && !request.inputs().contains(maximize)) {
			throw SweepInvalidException.forField("objective.maximize",
					"'" + maximize + "' is not mean, min or one of the inputs " + request.inputs());
		}
		return request.objective();
	}

	/** The sweep's recipe at one grid point, as a PEFT-dialect draft. */
	private static RecipeDraft.Peft recipe(SweepDraft request, double[] weights) {
		List<RecipeDraft.Term> terms = new ArrayList<>();
		for (int i = 0; i < weights.length; i++) {
			terms.add(new RecipeDraft.Term(request.terms().get(i).patchId(), weights[i], null, null));
		}
		return new RecipeDraft.Peft(request.baseModelId(), terms, request.method(), request.density(),
				request.majoritySign(), request.seed(), RecipeDraft.Output.DEFAULT);
	}

	private void run(UUID id, SweepDraft request, List<double[]> grid, Inputs inputs, int first) throws IOException {
		ArtifactContent dataset = inputs.dataset();
		List<StoredTensor> splits = inputs.splits();
		int batchSize = request.batchSize();
		long started = System.nanoTime();
		long loading;
		long applying = 0;
		Leases.checkHeld(this.jdbc.sql("update sweep set status = 'running' where id = :id and claimed_by = :me")
			.param("id", id)
			.param("me", this.leases.instanceId())
			.update());
		try (MergedDeltas.Prepared prepared = this.deltas.prepare(recipe(request, grid.get(0)));
				GraphModel model = this.models.loadPrivately(UUID.fromString(request.baseModelId()))) {
			Map<String, List<Long>> parameters = model.parameterShapes();
			for (TensorSpec tensor : prepared.tensors()) {
				if (!tensor.shape().equals(parameters.get(tensor.name()))) {
					throw new UnprocessableException(ProblemKind.SWEEP_TENSOR_NOT_IN_GRAPH,
							"the terms change tensor '" + tensor.name() + "' " + tensor.shape()
									+ ", which is not a parameter of that shape in the base model's graph",
							Map.of("tensor", tensor.name()));
				}
			}
			long[] expected = Evaluations.readLabels(dataset, inputs.labels());
			long loaded = System.nanoTime();
			for (int point = first; point < grid.size(); point++) {
				long pointStarted = System.nanoTime();
				prepared.run(grid.get(point), model::applyDelta);
				applying += System.nanoTime() - pointStarted;
				Map<String, Double> accuracy = new LinkedHashMap<>();
				for (int i = 0; i < splits.size(); i++) {
					StoredTensor split = splits.get(i);
					long correct = Evaluations.countCorrect(model, dataset, split, "inputs[" + i + "]", expected,
							batchSize, (rows, correctSoFar) -> {
							});
					accuracy.put(split.name(), (double) correct / Math.max(1, expected.length));
				}
				store(id, point, grid.get(point), accuracy);
			}
			loading = loaded - started;
		}
		long durationMs = (System.nanoTime() - started) / 1_000_000;
		Leases.checkHeld(this.jdbc
			.sql("update sweep set status = 'done', duration_ms = :duration where id = :id and claimed_by = :me")
			.param("duration", durationMs)
			.param("id", id)
			.param("me", this.leases.instanceId())
			.update());
		logger.info(
				"Sweep {}: {} grid points on {} splits in {} ms ({} ms planning and loading the base, {} ms"
						+ " applying deltas)",
				id, grid.size(), splits.size(), durationMs, loading / 1_000_000, applying / 1_000_000);
	}

	/**
	 * One grid point's result and the progress with it, in one statement, and only while
	 * this replica holds the sweep. A replica of an earlier release wrote the two apart
	 * and may have died between them: its successor writes that result again, the same.
	 * @throws LeaseLostException if another replica holds the sweep now
	 */
	private void store(UUID id, int point, double[] weights, Map<String, Double> accuracy) {
		Leases.checkHeld(this.jdbc
			.sql("""
					with progress as (
					  update sweep set points_done = :done where id = :id and claimed_by = :me returning id)
					insert into sweep_result (sweep_id, ordinal, weights, accuracy)
					select id, :ordinal, :weights, :accuracy from progress
					on conflict (sweep_id, ordinal) do update set weights = excluded.weights, accuracy = excluded.accuracy""")
			.param("id", id)
			.param("done", point + 1)
			.param("me", this.leases.instanceId())
			.param("ordinal", point)
			.param("weights", this.json.writeValueAsString(weights))
			.param("accuracy", this.json.writeValueAsString(accuracy))
			.update());
	}

	/**
	 * Stores the failure while this replica holds the sweep, unless it is shutting down.
	 */
	private void failed(UUID id, Exception ex) {
		if (this.closing) {
			// Stopped by the shutdown, not at fault: handed back, it goes on elsewhere.
			logger.info("Sweep {} stopped by the shutdown ({}); another replica takes it over", id, ex.toString());
			return;
		}
		logger.warn("Sweep {} failed", id, ex);
		Map<String, Object> error = this.problems.of(ex, ProblemKind.SWEEP_FAILED);
		this.jdbc.sql("update sweep set status = 'failed', error = :error where id = :id and claimed_by = :me")
			.param("error", this.json.writeValueAsString(error), Types.VARCHAR)
			.param("id", id)
			.param("me", this.leases.instanceId())
			.update();
	}

	/**
	 * Reads the stored sweep with its results so far, whichever replica runs or ran it.
	 * @throws NotFoundException if no sweep has the id
	 */
	public SweepSummary get(UUID id) {
		SweepSummary sweep = this.jdbc.sql("select * from sweep where id = :id")
			.param("id", id)
			.query(this::view)
			.optional()
			.orElseThrow(() -> SweepNotFoundException.forId(id));
		List<SweepSummary.Result> results = this.jdbc
			.sql("select weights, accuracy from sweep_result where sweep_id = :id order by ordinal")
			.param("id", id)
			.query((row, number) -> new SweepSummary.Result(
					this.json.readTree(row.getString("weights")).valueStream().map(JsonNode::asDouble).toList(),
					accuracy(this.json.readTree(row.getString("accuracy")))))
			.list();
		return new SweepSummary(sweep.id(), sweep.status(), sweep.progress(), sweep.request(), results,
				best(results, sweep.request().objective()), sweep.durationMs(), sweep.error(), sweep.createdAt());
	}

	/**
	 * Sweeps newest first, of one status or, when null, all; without their results.
	 */
	public Page<SweepSummary> list(String status, Pageable pageable) {
		return StatusPages.list(this.jdbc, "sweep", status, pageable, this::view);
	}

	private SweepSummary view(ResultSet row, int number) throws SQLException {
		long duration = row.getLong("duration_ms");
		Long durationMs = row.wasNull() ? null : duration;
		String error = row.getString("error");
		Timestamp created = row.getTimestamp("created_at");
		return new SweepSummary(row.getObject("id", UUID.class), row.getString("status"),
				new SweepSummary.Progress(row.getInt("points_done"), row.getInt("points_total")),
				this.json.readValue(row.getString("request"), SweepDraft.class), null, null, durationMs, error,
				created.toInstant());
	}

	private static Map<String, Double> accuracy(JsonNode node) {
		Map<String, Double> accuracy = new LinkedHashMap<>();
		node.properties().forEach((entry) -> accuracy.put(entry.getKey(), entry.getValue().asDouble()));
		return accuracy;
	}

	/** The first result with the highest score, or null before any. */
	static SweepSummary.Best best(List<SweepSummary.Result> results, SweepDraft.Objective objective) {
		SweepSummary.Result best = null;
		double bestScore = Double.NEGATIVE_INFINITY;
		for (SweepSummary.Result result : results) {
			double score = score(result.accuracy(), objective.maximize());
			if (best == null || score > bestScore) {
				best = result;
				bestScore = score;
			}
		}
		return (best != null) ? new SweepSummary.Best(best.weights(), best.accuracy(), bestScore) : null;
	}

	/** The objective's value for one grid point: mean, worst split, or one split. */
	static double score(Map<String, Double> accuracy, String maximize) {
		return switch (maximize) {
			case MEAN -> accuracy.values().stream().mapToDouble(Double::doubleValue).average().orElse(0);
			case MIN -> accuracy.values().stream().mapToDouble(Double::doubleValue).min().orElse(0);
			default -> accuracy.get(maximize);
		};
	}

	/**
	 * Stops the worker and hands this replica's queued and running sweeps back, for
	 * another replica to take over at once.
	 */
	@Override
	public void close() {
		this.closing = true;
		this.worker.shutdownNow();
		this.leases.handBack(Leases.SWEEP);
	}

}
