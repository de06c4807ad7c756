package dev.patchbay.inference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.data.domain.Page;
import org.springframework.data.domain.Pageable;
import org.springframework.jdbc.core.simple.JdbcClient;
import org.springframework.stereotype.Service;

import dev.patchbay.engine.GraphModel;
import dev.patchbay.engine.HostTensor;
import dev.patchbay.engine.TensorData;
import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.GraphSignature;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemBodies;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.ServiceBusyException;
import dev.patchbay.storage.BlobPins;

/**
 * Measures classification accuracy of a model or composition on a dataset, batch by
 * batch, so memory holds one batch whatever the dataset size. Evaluations run on a
 * worker; a caller may wait for the result or poll its progress. Progress and results are
 * stored in PostgreSQL after every batch, so every replica answers for them, and the
 * replica running one holds it by a lease: another replica runs it again when the lease
 * lapses.
 */
@Service
public class Evaluations implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(Evaluations.class);

	/**
	 * When a refused evaluation may be asked again: a batch or two of the running one.
	 */
	private static final Duration RETRY_AFTER = Duration.ofSeconds(5);

	private final LoadedModels models;

	private final Registry registry;

	private final InferenceProperties properties;

	private final JsonMapper json;

	/** Asynchronous evaluations, one at a time, with a bounded queue in front. */
	private final ExecutorService worker;

	private final JdbcClient jdbc;

	private final ProblemBodies problems;

	private final Leases leases;

	/**
	 * Set at shutdown, before the worker is interrupted: an evaluation that fails then
	 * was stopped, not at fault, and is handed back to be run elsewhere.
	 */
	private volatile boolean closing;

	Evaluations(LoadedModels models, Registry registry, InferenceProperties properties, JsonMapper json,
			JdbcClient jdbc, Leases leases, ProblemBodies problems) {
		this.models = models;
		this.registry = registry;
		this.properties = properties;
		this.json = json;
		this.jdbc = jdbc;
		this.problems = problems;
		this.worker = Workers.single("evaluation-worker", properties.maxQueuedEvaluations());
		this.leases = leases;
		leases.onLapsed(Leases.EVALUATION, this::takeOver);
	}

	/**
	 * Validates the request and runs the evaluation, waiting for it unless {@code async}
	 * is set.
	 * @throws InferenceInputException naming the field at fault
	 * @throws NotFoundException for an unknown model, composition or dataset
	 */
	public EvaluationSummary evaluate(EvaluationDraft request) {
		// The dataset's blobs stay pinned until the evaluation ends, on whichever thread.
		BlobPins pins = this.registry.pins();
		try {
			return evaluate(request, pins);
		}
		catch (RuntimeException ex) {
			pins.close();
			throw ex;
		}
	}

	private EvaluationSummary evaluate(EvaluationDraft request, BlobPins pins) {
		if ((request.modelId() == null) == (request.compositionId() == null)) {
			throw InferenceInputException.forField("modelId", "give exactly one of modelId and compositionId");
		}
		if (request.datasetId() == null) {
			throw InferenceInputException.forField("datasetId", "is required");
		}
		int batchSize = (request.batchSize() != null) ? request.batchSize() : this.properties.evaluationBatchSize();
		if (batchSize < 1 || batchSize > this.properties.maxEvaluationBatchSize()) {
			throw InferenceInputException.forField("batchSize", "must be between 1 and "
					+ this.properties.maxEvaluationBatchSize() + " (patchbay.inference.max-evaluation-batch-size)");
		}
		Run run = prepare(request, batchSize, pins);
		Progress progress = new Progress(UUID.randomUUID(), run.rows());
		this.jdbc.sql("""
				insert into evaluation (id, status, examples_done, examples_total, correct, created_at, claimed_by,
				                        heartbeat_at, request)
				values (:id, 'running', 0, :total, 0, now(), :me, now(), :request)""")
			.param("id", progress.id)
			.param("total", progress.total)
			.param("me", this.leases.instanceId())
			.param("request", this.json.writeValueAsString(run.request()))
			.update();
		this.leases.hold(Leases.EVALUATION, progress.id);
		if (Boolean.TRUE.equals(request.async())) {
			try {
				submit(progress, run, pins);
			}
			catch (RejectedExecutionException ex) {
				// Refused whole: the row goes, so the refusal leaves no trace.
				this.leases.release(Leases.EVALUATION, progress.id);
				this.jdbc.sql("delete from evaluation where id = :id").param("id", progress.id).update();
				throw new ServiceBusyException(ProblemKind.EVALUATIONS_BUSY,
						"the queue of asynchronous evaluations is full (" + this.properties.maxQueuedEvaluations()
								+ ", patchbay.inference.max-queued-evaluations); try again later",
						RETRY_AFTER, Map.of("limit", this.properties.maxQueuedEvaluations()));
			}
		}
		else {
			try (pins) {
				run(progress, run);
			}
			catch (LeaseLostException ex) {
				// Another replica runs it again: the caller sees it running there, and
				// polls.
				logger.info("Evaluation {} is held by another replica now; it runs there, not here", progress.id);
				return get(progress.id);
			}
			catch (IOException ex) {
				failed(progress.id, ex);
				throw new UncheckedIOException(ex);
			}
			catch (RuntimeException ex) {
				failed(progress.id, ex);
				throw ex;
			}
			finally {
				this.leases.release(Leases.EVALUATION, progress.id);
			}
		}
		return progress.view();
	}

	/**
	 * What an evaluation runs: the request with its references resolved to ids and its
	 * batch size filled in, as it is stored, and the dataset tensors it reads.
	 */
	private record Run(EvaluationDraft request, String target, ArtifactContent dataset, StoredTensor inputs,
			StoredTensor labels) {

		long rows() {
			return this.inputs.spec().shape().get(0);
		}

	}

	/**
	 * Resolves what the request names and checks the dataset's tensors against the graph;
	 * a stored request, of ids already, is checked again the same way.
	 */
	private Run prepare(EvaluationDraft request, int batchSize, BlobPins pins) {
		UUID datasetId = this.registry.resolve(ArtifactType.DATASET, request.datasetId(), "datasetId");
		ArtifactContent dataset = this.registry.content(ArtifactType.DATASET, datasetId, pins);
		StoredTensor inputs = inputsOf(dataset, "inputs", request.inputs());
		long rows = inputs.spec().shape().get(0);
		StoredTensor labels = labelsOf(dataset, "labels", request.labels(), rows);
		String target = (request.modelId() != null)
				? this.registry.resolve(ArtifactType.MODEL, request.modelId(), "modelId").toString()
				: request.compositionId().toString();
		// Resolve now, so that an unknown id is a 404 of this request rather than a
		// failed evaluation.
		GraphSignature signature = this.models.signature(target);
		checkAgainstSignature(inputs, "inputs", signature);
		checkBatch(inputs, batchSize, this.properties);
		EvaluationDraft resolved = new EvaluationDraft((request.modelId() != null) ? target : null,
				request.compositionId(), datasetId.toString(), request.inputs(), request.labels(), batchSize,
				request.async());
		return new Run(resolved, target, dataset, inputs, labels);
	}

	/**
	 * Runs the evaluation on the worker, which owns the pins and the lease from then on.
	 */
	private void submit(Progress progress, Run run, BlobPins pins) {
		this.worker.execute(() -> this.leases.runHeld(Leases.EVALUATION, progress.id, () -> {
			try (pins) {
				run(progress, run);
			}
		}, this::failed));
	}

	/**
	 * Queues an evaluation whose replica is gone; called on the lease ticker, so what it
	 * reads (the dataset perhaps from S3) is read on the worker.
	 */
	private void takeOver(UUID id) {
		try {
			this.worker.execute(() -> this.leases.runHeld(Leases.EVALUATION, id, () -> runAgain(id), this::failed));
		}
		catch (RejectedExecutionException ex) {
			// No room here now: the lease lapses again, and a replica with room (or this
			// one, later) takes the evaluation.
			this.leases.release(Leases.EVALUATION, id);
		}
	}

	/**
	 * Runs an evaluation taken over again, from the start: one pass over the dataset is
	 * little to lose, and the result is then one run's, not two replicas' (on different
	 * hardware, say) added together. What it reads may be gone (the dataset was deleted,
	 * say): the evaluation then fails with that problem, as it would have where it
	 * started.
	 */
	private void runAgain(UUID id) throws IOException {
		String stored = (String) this.jdbc.sql("select request from evaluation where id = :id")
			.param("id", id)
			.query()
			.singleRow()
			.get("request");
		if (stored == null) {
			// Stored before evaluations kept their request: nothing here can run it.
			throw EvaluationAbandonedException.forId(id);
		}
		EvaluationDraft request = this.json.readValue(stored, EvaluationDraft.class);
		try (BlobPins pins = this.registry.pins()) {
			Run run = prepare(request, request.batchSize(), pins);
			Progress progress = new Progress(id, run.rows());
			store(progress);
			run(progress, run);
		}
	}

	/**
	 * Reads the stored evaluation, whichever replica runs or ran it.
	 * @throws NotFoundException if no evaluation has the id
	 */
	public EvaluationSummary get(UUID id) {
		return this.jdbc.sql("select * from evaluation where id = :id")
			.param("id", id)
			.query(this::view)
			.optional()
			.orElseThrow(() -> EvaluationNotFoundException.forId(id));
	}

	/**
	 * Evaluations newest first, of one status ({@code running}, {@code done},
	 * {@code failed}) or, when null, all.
	 */
	public Page<EvaluationSummary> list(String status, Pageable pageable) {
		return StatusPages.list(this.jdbc, "evaluation", status, pageable, this::view);
	}

	private EvaluationSummary view(ResultSet row, int number) throws SQLException {
		String status = row.getString("status");
		long total = row.getLong("examples_total");
		boolean done = status.equals("done");
		long duration = row.getLong("duration_ms");
		Long durationMs = row.wasNull() ? null : duration;
		String error = row.getString("error");
		return new EvaluationSummary(row.getObject("id", UUID.class), status, row.getLong("examples_done"), total,
				done ? (double) row.getLong("correct") / Math.max(1, total) : null, done ? total : null, durationMs,
				error);
	}

	/**
	 * Writes the progress where every replica reads it, while this replica holds the
	 * evaluation.
	 * @throws LeaseLostException if another replica holds it now
	 */
	private void store(Progress progress) {
		Leases.checkHeld(this.jdbc.sql("""
				update evaluation set status = :status, examples_done = :done, correct = :correct,
				duration_ms = :duration where id = :id and claimed_by = :me""")
			.param("status", progress.status)
			.param("done", progress.done)
			.param("correct", progress.correct)
			.param("duration", progress.durationMs, Types.BIGINT)
			.param("id", progress.id)
			.param("me", this.leases.instanceId())
			.update());
	}

	private void run(Progress progress, Run run) throws IOException {
		long started = System.nanoTime();
		try (LoadedModels.Lease lease = this.models.lease(run.target())) {
			long[] expected = readLabels(run.dataset(), run.labels());
			long correct = countCorrect(lease.model(), run.dataset(), run.inputs(), "inputs", expected,
					run.request().batchSize(), (rows, correctSoFar) -> {
						progress.advance(rows, correctSoFar);
						store(progress);
					});
			progress.finish(System.nanoTime() - started);
			store(progress);
			logger.info("Evaluation {} of {}: accuracy {} on {} rows", progress.id, run.target(),
					(double) correct / Math.max(1, progress.total), progress.total);
		}
	}

	/** Told after each batch how many rows it held and how many are correct so far. */
	@FunctionalInterface
	interface BatchDone {

		void accept(int rows, long correct);

	}

	/**
	 * Feeds a dataset tensor to a graph batch by batch, so memory holds one batch, and
	 * counts the rows whose arg-max output equals the label.
	 * @param field the request field that named the inputs, for problems
	 */
	static long countCorrect(GraphModel model, ArtifactContent dataset, StoredTensor inputs, String field,
			long[] labels, int batchSize, BatchDone done) throws IOException {
		List<Long> shape = inputs.spec().shape();
		long total = shape.get(0);
		long rowElements = 1;
		for (int i = 1; i < shape.size(); i++) {
			rowElements *= shape.get(i);
		}
		long correct = 0;
		float[] batch = new float[Math.toIntExact(Math.min(batchSize, total) * rowElements)];
		for (long row = 0; row < total; row += batchSize) {
			int n = (int) Math.min(batchSize, total - row);
			int count = Math.toIntExact(n * rowElements);
			TensorData.readFloats(dataset.fileOf(inputs), inputs.dataOffset(), inputs.spec().dtype(), row * rowElements,
					batch, count);
			long[] batchShape = shape.stream().mapToLong(Long::longValue).toArray();
			batchShape[0] = n;
			HostTensor output;
			try {
				output = model
					.forward(List.of(new HostTensor(DType.F32, batchShape, TensorData.encode(batch, count, DType.F32))))
					.get(0);
			}
			catch (IllegalArgumentException ex) {
				throw InferenceInputException.forField(field, "the graph rejected them: " + ex.getMessage());
			}
			correct += countCorrect(output, labels, row, n, field);
			done.accept(n, correct);
		}
		return correct;
	}

	/**
	 * The dataset tensor a request names as inputs: floating-point, [rows, features...].
	 * @throws InferenceInputException naming the field
	 */
	static StoredTensor inputsOf(ArtifactContent dataset, String field, String name) {
		StoredTensor inputs = tensor(dataset, field, name);
		if (!inputs.spec().dtype().isFloatingPoint()) {
			throw InferenceInputException.forField(field, "tensor '" + inputs.name() + "' is not floating-point");
		}
		List<Long> shape = inputs.spec().shape();
		if (shape.size() < 2) {
			throw InferenceInputException.forField(field, "tensor '" + inputs.name() + "' has shape " + shape
					+ "; evaluation inputs are [rows, features...], of rank 2 or more");
		}
		return inputs;
	}

	/**
	 * The dataset tensor a request names as labels: integer, one per input row.
	 * @throws InferenceInputException naming the field
	 */
	static StoredTensor labelsOf(ArtifactContent dataset, String field, String name, long rows) {
		StoredTensor labels = tensor(dataset, field, name);
		if (labels.spec().dtype() != DType.I64 && labels.spec().dtype() != DType.I32) {
			throw InferenceInputException.forField(field, "tensor '" + labels.name() + "' must be I64 or I32");
		}
		if (labels.spec().shape().size() != 1 || labels.spec().shape().get(0) != rows) {
			throw InferenceInputException.forField(field,
					"tensor '" + labels.name() + "' must hold one label per input row (" + rows + ")");
		}
		return labels;
	}

	/**
	 * A batch of the inputs must fit the per-request element limit.
	 * @throws InferenceInputException naming batchSize
	 */
	static void checkBatch(StoredTensor inputs, int batchSize, InferenceProperties properties) {
		List<Long> shape = inputs.spec().shape();
		long rows = shape.get(0);
		long rowElements = shape.stream().skip(1).reduce(1L, Math::multiplyExact);
		long batchElements = Math.min(batchSize, Math.max(1, rows)) * rowElements;
		if (batchElements > properties.maxRequestElements()) {
			throw InferenceInputException.forField("batchSize",
					batchSize + " rows of " + rowElements + " elements exceed the limit of "
							+ properties.maxRequestElements()
							+ " elements per batch (patchbay.inference.max-request-elements)");
		}
	}

	/** A dataset the graph's declared input cannot take is refused before any batch. */
	static void checkAgainstSignature(StoredTensor inputs, String field, GraphSignature signature) {
		if (signature == null || signature.inputs().isEmpty() || signature.inputs().get(0).shape() == null) {
			return;
		}
		List<Long> declared = signature.inputs().get(0).shape();
		List<Long> actual = inputs.spec().shape();
		boolean fits = declared.size() == actual.size();
		for (int i = 1; fits && i < declared.size(); i++) {
			fits = declared.get(i) == -1 || declared.get(i).equals(actual.get(i));
		}
		if (!fits) {
			throw InferenceInputException.forField(field, "tensor '" + inputs.name() + "' has shape " + actual
					+ " but the model's input takes " + declared + " (the first dimension is the batch)");
		}
	}

	/**
	 * Stores the failure while this replica holds the evaluation, unless it is shutting
	 * down; the progress up to it was stored batch by batch.
	 */
	private void failed(UUID id, Exception ex) {
		if (this.closing) {
			// Stopped by the shutdown, not at fault: handed back, it runs elsewhere.
			logger.info("Evaluation {} stopped by the shutdown ({}); another replica runs it", id, ex.toString());
			return;
		}
		logger.warn("Evaluation {} failed", id, ex);
		this.jdbc.sql("update evaluation set status = 'failed', error = :error where id = :id and claimed_by = :me")
			.param("error", this.json.writeValueAsString(this.problems.of(ex, ProblemKind.EVALUATION_FAILED)),
					Types.VARCHAR)
			.param("id", id)
			.param("me", this.leases.instanceId())
			.update();
	}

	private static long countCorrect(HostTensor output, long[] labels, long firstRow, int rows, String field) {
		if (output.shape().length != 2 || output.shape()[0] != rows || output.dtype() != DType.F32) {
			throw InferenceInputException.forField(field,
					"the graph's first output must be F32 [batch, classes] to score accuracy");
		}
		int classes = (int) output.shape()[1];
		ByteBuffer logits = output.data().duplicate().order(ByteOrder.LITTLE_ENDIAN);
		long correct = 0;
		for (int r = 0; r < rows; r++) {
			int best = 0;
			for (int c = 1; c < classes; c++) {
				if (logits.getFloat((r * classes + c) * 4) > logits.getFloat((r * classes + best) * 4)) {
					best = c;
				}
			}
			if (best == labels[(int) (firstRow + r)]) {
				correct++;
			}
		}
		return correct;
	}

	static long[] readLabels(ArtifactContent dataset, StoredTensor labels) throws IOException {
		int count = Math.toIntExact(labels.spec().elementCount());
		ByteBuffer bytes = ByteBuffer
			.wrap(TensorData.readBytes(dataset.fileOf(labels), labels.dataOffset(),
					Math.toIntExact(labels.spec().byteSize())))
			.order(ByteOrder.LITTLE_ENDIAN);
		long[] values = new long[count];
		for (int i = 0; i < count; i++) {
			values[i] = (labels.spec().dtype() == DType.I64) ? bytes.getLong(i * 8) : bytes.getInt(i * 4);
		}
		return values;
	}

	private static StoredTensor tensor(ArtifactContent dataset, String field, String name) {
		if (name == null) {
			throw InferenceInputException.forField(field, "is required: the name of a dataset tensor");
		}
		return dataset.tensor(name)
			.orElseThrow(() -> InferenceInputException.forField(field, "the dataset has no tensor '" + name + "'"));
	}

	/**
	 * Stops the worker and hands this replica's running evaluations back, for another
	 * replica to run at once.
	 */
	@Override
	public void close() {
		this.closing = true;
		this.worker.shutdownNow();
		this.leases.handBack(Leases.EVALUATION);
	}

	/** Progress of one evaluation, updated by the worker and read by pollers. */
	private static final class Progress {

		private final UUID id;

		private final long total;

		private volatile long done;

		private volatile long correct;

		private volatile String status = "running";

		private volatile Long durationMs;

		Progress(UUID id, long total) {
			this.id = id;
			this.total = total;
		}

		void advance(int rows, long correct) {
			this.done += rows;
			this.correct = correct;
		}

		void finish(long nanos) {
			this.durationMs = nanos / 1_000_000;
			this.status = "done";
		}

		EvaluationSummary view() {
			boolean done = this.status.equals("done");
			return new EvaluationSummary(this.id, this.status, this.done, this.total,
					done ? (double) this.correct / Math.max(1, this.total) : null, done ? this.total : null,
					this.durationMs, null);
		}

	}

}
