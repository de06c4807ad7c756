package dev.patchbay.inference;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.stereotype.Component;

import dev.patchbay.composition.CompositionStatus;
import dev.patchbay.composition.CompositionSummary;
import dev.patchbay.composition.Compositions;
import dev.patchbay.engine.GraphModel;
import dev.patchbay.engine.TensorEngine;
import dev.patchbay.registry.ArtifactContent;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.GraphSignature;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.StoredFile;
import dev.patchbay.registry.StoredTensor;
import dev.patchbay.shared.NotFoundException;
import dev.patchbay.shared.ProblemKind;
import dev.patchbay.shared.UnprocessableException;
import dev.patchbay.storage.BlobPins;
import dev.patchbay.storage.SafetensorsHeader;
import dev.patchbay.storage.SafetensorsReader;
import dev.patchbay.engine.TensorData;
import dev.patchbay.storage.TensorEntry;

/**
 * Models ready for inference: a graph with a model's or a composition's weights swapped
 * in, kept in an LRU cache bounded in bytes. A lease keeps a model open; eviction closes
 * it only when the last lease in flight is released, so evicting never disturbs a running
 * request.
 */
@Component
class LoadedModels implements AutoCloseable {

	private static final Logger logger = LoggerFactory.getLogger(LoadedModels.class);

	private final Registry registry;

	private final Compositions compositions;

	private final TensorEngine engine;

	private final InferenceProperties properties;

	private final JsonMapper json;

	private final LinkedHashMap<String, CompletableFuture<Entry>> cache = new LinkedHashMap<>(16, 0.75f, true);

	private final MeterRegistry meters;

	LoadedModels(Registry registry, Compositions compositions, TensorEngine engine, InferenceProperties properties,
			JsonMapper json, MeterRegistry meters) {
		this.meters = meters;
		this.registry = registry;
		this.compositions = compositions;
		this.engine = engine;
		this.properties = properties;
		this.json = json;
	}

	/**
	 * A loaded model in use; close it when the request is done.
	 */
	final class Lease implements AutoCloseable {

		private final Entry entry;

		private Lease(Entry entry) {
			this.entry = entry;
		}

		GraphModel model() {
			return this.entry.model;
		}

		GraphSignature signature() {
			return this.entry.signature;
		}

		@Override
		public void close() {
			this.entry.release();
		}

	}

	/**
	 * Leases the model for a model id or a composition id, loading it on first use. A
	 * composition that is not computed yet is computed first.
	 * @throws NotFoundException if the id names no model or composition
	 * @throws UnprocessableException if the model has no graph, or its weights do not fit
	 * the graph
	 */
	Lease lease(String id) {
		CompletableFuture<Entry> future;
		boolean load = false;
		synchronized (this.cache) {
			future = this.cache.get(id);
			if (future == null) {
				future = new CompletableFuture<>();
				this.cache.put(id, future);
				load = true;
			}
		}
		this.meters.counter("patchbay.inference.cache", "result", load ? "miss" : "hit").increment();
		if (load) {
			try {
				future.complete(load(id));
			}
			catch (RuntimeException ex) {
				synchronized (this.cache) {
					this.cache.remove(id);
				}
				future.completeExceptionally(ex);
			}
			evictBeyondBudget();
		}
		try {
			Entry entry = future.join();
			// A model deleted here or on another instance stops serving at once, whatever
			// the cache holds; a composition's base cannot be deleted while it exists.
			if (!load && !this.registry.exists(ArtifactType.MODEL, entry.modelId)) {
				synchronized (this.cache) {
					this.cache.remove(id, future);
				}
				entry.evict();
				throw notFound(id);
			}
			synchronized (entry) {
				if (entry.closed) {
					// Evicted between lookup and lease: load afresh.
					return lease(id);
				}
				entry.leases++;
			}
			return new Lease(entry);
		}
		catch (CompletionException ex) {
			throw (ex.getCause() instanceof RuntimeException runtime) ? runtime : ex;
		}
	}

	/**
	 * The declared signature of a model or composition (its base's), without loading it
	 * or waiting for the composition's result.
	 */
	GraphSignature signature(String id) {
		UUID uuid = parse(id);
		if (this.registry.exists(ArtifactType.MODEL, uuid)) {
			return signatureOf(this.registry.manifest(ArtifactType.MODEL, uuid));
		}
		return signatureOf(this.registry.manifest(ArtifactType.MODEL, composition(id, uuid).baseModelId()));
	}

	/**
	 * Whether an id serves inference without waiting or failing: a model with a graph, or
	 * a ready composition whose base has one.
	 * @throws NotFoundException if the id names no model or composition
	 */
	boolean ready(String id) {
		UUID uuid = parse(id);
		UUID modelId = uuid;
		if (!this.registry.exists(ArtifactType.MODEL, uuid)) {
			CompositionSummary composition = composition(id, uuid);
			if (composition.status() != CompositionStatus.READY || composition.baseModelId() == null) {
				return false;
			}
			modelId = composition.baseModelId();
		}
		return this.registry.manifest(ArtifactType.MODEL, modelId)
			.details()
			.files()
			.stream()
			.anyMatch((file) -> file.role().equals("graph"));
	}

	/**
	 * Loads a registered model's graph with its weights outside the cache, for a caller
	 * that changes its parameters (a sweep) and so must not share it; the caller closes
	 * it.
	 * @throws NotFoundException if no model has the id
	 * @throws UnprocessableException if the model has no graph, or its weights do not fit
	 * the graph
	 */
	GraphModel loadPrivately(UUID modelId) {
		if (!this.registry.exists(ArtifactType.MODEL, modelId)) {
			throw notFound(modelId.toString());
		}
		return load(modelId.toString()).model;
	}

	private Entry load(String id) {
		try (Source source = source(id)) {
			return load(id, source);
		}
	}

	private Entry load(String id, Source source) {
		if (source.graph == null) {
			throw new UnprocessableException(ProblemKind.NO_GRAPH, "model " + source.modelId
					+ " has no TorchScript graph; attach one with PUT /api/v1/models/" + source.modelId + "/graph",
					Map.of("id", id));
		}
		long started = System.nanoTime();
		GraphModel model;
		try {
			model = this.engine.loadGraph(source.graph);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		try {
			for (Map.Entry<String, List<Long>> parameter : model.parameterShapes().entrySet()) {
				TensorEntry tensor = source.tensors.get(parameter.getKey());
				if (tensor == null || !tensor.spec().shape().equals(parameter.getValue())) {
					throw new UnprocessableException(
							ProblemKind.GRAPH_MISMATCH, "graph parameter '" + parameter.getKey()
									+ "' has no tensor of shape " + parameter.getValue(),
							Map.of("parameter", parameter.getKey()));
				}
				float[] values = new float[Math.toIntExact(tensor.spec().elementCount())];
				TensorData.readFloats(source.weights, tensor.offset(), tensor.spec().dtype(), 0, values, values.length);
				model.setParameter(parameter.getKey(), values);
			}
			long bytes = model.parameterBytes() + Files.size(source.graph);
			logger.info("Loaded {} for inference: {} bytes in {} ms", id, bytes,
					(System.nanoTime() - started) / 1_000_000);
			return new Entry(source.modelId, model, source.signature, bytes);
		}
		catch (IOException | RuntimeException ex) {
			model.close();
			throw (ex instanceof IOException io) ? new UncheckedIOException(io) : (RuntimeException) ex;
		}
	}

	/**
	 * What a model loads from; a composition's result stays pinned in its cache until
	 * closed.
	 */
	private record Source(UUID modelId, Path graph, Path weights, Map<String, TensorEntry> tensors,
			GraphSignature signature, Compositions.Result result, BlobPins pins) implements AutoCloseable {

		@Override
		public void close() {
			if (this.result != null) {
				this.result.close();
			}
			this.pins.close();
		}

	}

	/**
	 * A model id names a registered model; a composition id, the base model's graph with
	 * the composition's result.
	 */
	private Source source(String id) {
		BlobPins pins = this.registry.pins();
		try {
			return source(id, pins);
		}
		catch (RuntimeException ex) {
			pins.close();
			throw ex;
		}
	}

	private Source source(String id, BlobPins pins) {
		UUID uuid = parse(id);
		if (this.registry.exists(ArtifactType.MODEL, uuid)) {
			ArtifactContent model = this.registry.content(ArtifactType.MODEL, uuid, pins);
			Map<String, TensorEntry> tensors = new LinkedHashMap<>();
			Path weights = null;
			for (StoredTensor tensor : model.tensors()) {
				weights = model.fileOf(tensor);
				tensors.put(tensor.name(),
						new TensorEntry(tensor.spec(), tensor.dataOffset(), tensor.spec().byteSize()));
			}
			boolean sharded = model.tensors().stream().map(StoredTensor::fileOrdinal).distinct().count() > 1;
			if (sharded) {
				throw new UnprocessableException(ProblemKind.SHARDED_INFERENCE,
						"inference on sharded models is not supported yet; compose or re-upload it as one file",
						Map.of("id", id));
			}
			return new Source(uuid, graphOf(model), weights, tensors, signatureOf(model), null, pins);
		}
		CompositionSummary composition = composition(id, uuid);
		ArtifactContent base = this.registry.content(ArtifactType.MODEL, composition.baseModelId(), pins);
		Compositions.Result result = this.compositions.awaitResult(uuid, this.properties.compositionWait());
		try {
			SafetensorsHeader header = SafetensorsReader.readHeader(result.path(), id);
			Map<String, TensorEntry> tensors = new LinkedHashMap<>();
			header.tensors().forEach((tensor) -> tensors.put(tensor.name(), tensor));
			return new Source(base.details().id(), graphOf(base), result.path(), tensors, signatureOf(base), result,
					pins);
		}
		catch (IOException | RuntimeException ex) {
			result.close();
			throw (ex instanceof IOException io) ? new UncheckedIOException(io) : (RuntimeException) ex;
		}
	}

	private static UUID parse(String id) {
		try {
			return UUID.fromString(id);
		}
		catch (IllegalArgumentException ex) {
			throw notFound(id);
		}
	}

	private CompositionSummary composition(String id, UUID uuid) {
		try {
			return this.compositions.get(uuid);
		}
		catch (NotFoundException ex) {
			throw notFound(id);
		}
	}

	private static Path graphOf(ArtifactContent model) {
		List<StoredFile> files = model.details().files();
		for (int i = 0; i < files.size(); i++) {
			if (files.get(i).role().equals("graph")) {
				return model.files().get(i);
			}
		}
		return null;
	}

	private GraphSignature signatureOf(ArtifactContent model) {
		if (model.config() == null) {
			return null;
		}
		JsonNode signature = this.json.readTree(model.config()).get("signature");
		return (signature != null) ? this.json.treeToValue(signature, GraphSignature.class) : null;
	}

	private static NotFoundException notFound(String id) {
		return new NotFoundException(ProblemKind.MODEL_NOT_FOUND, "no model or composition has id " + id,
				Map.of("id", id));
	}

	private void evictBeyondBudget() {
		List<Entry> evicted = new ArrayList<>();
		synchronized (this.cache) {
			long total = 0;
			for (CompletableFuture<Entry> future : this.cache.values()) {
				total += (future.isDone() && !future.isCompletedExceptionally()) ? future.join().bytes : 0;
			}
			Iterator<Map.Entry<String, CompletableFuture<Entry>>> eldest = this.cache.entrySet().iterator();
			while (total > this.properties.cacheSize().toBytes() && this.cache.size() > 1 && eldest.hasNext()) {
				CompletableFuture<Entry> future = eldest.next().getValue();
				if (future.isDone() && !future.isCompletedExceptionally()) {
					eldest.remove();
					total -= future.join().bytes;
					evicted.add(future.join());
				}
			}
		}
		evicted.forEach(Entry::evict);
		if (!evicted.isEmpty()) {
			this.meters.counter("patchbay.inference.cache.evictions").increment(evicted.size());
		}
	}

	@Override
	public void close() {
		synchronized (this.cache) {
			this.cache.values()
				.stream()
				.filter((future) -> future.isDone() && !future.isCompletedExceptionally())
				.forEach((future) -> future.join().evict());
			this.cache.clear();
		}
	}

	/** A cached model and how many requests use it. */
	private static final class Entry {

		/** The registered model this entry serves, or whose graph it runs. */
		private final UUID modelId;

		private final GraphModel model;

		private final GraphSignature signature;

		private final long bytes;

		private int leases;

		private boolean evicted;

		private boolean closed;

		Entry(UUID modelId, GraphModel model, GraphSignature signature, long bytes) {
			this.modelId = modelId;
			this.model = model;
			this.signature = signature;
			this.bytes = bytes;
		}

		synchronized void release() {
			this.leases--;
			closeIfIdle();
		}

		synchronized void evict() {
			this.evicted = true;
			closeIfIdle();
		}

		private void closeIfIdle() {
			if (this.evicted && this.leases == 0 && !this.closed) {
				this.closed = true;
				this.model.close();
			}
		}

	}

}
