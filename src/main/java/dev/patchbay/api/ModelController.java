package dev.patchbay.api;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;

import dev.patchbay.api.Responses.ArtifactResponse;
import dev.patchbay.composition.Lineage;
import dev.patchbay.composition.Lineages;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.Registry;
import dev.patchbay.transform.Transforms;

/**
 * Models: registered by upload (safetensors weights, sharded with an index, an optional
 * TorchScript graph and the model folder's other files), their weights, ancestry and
 * transforms. The shared reads and deletes are in {@link ArtifactController}.
 */
@RestController
@RequestMapping("/api/v1/models")
class ModelController extends ArtifactController {

	private final Ingest ingest;

	private final Downloads downloads;

	private final Lineages lineages;

	private final Transforms transforms;

	ModelController(Registry registry, MetadataReader metadata, Ingest ingest, Downloads downloads, Lineages lineages,
			Transforms transforms) {
		super(ArtifactType.MODEL, registry, metadata);
		this.lineages = lineages;
		this.ingest = ingest;
		this.downloads = downloads;
		this.transforms = transforms;
	}

	/**
	 * Registers an uploaded model; any part not named here is refused by name, so a typo
	 * in a part name is not a silently missing file.
	 */
	@PostMapping(consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
	ResponseEntity<ArtifactResponse> register(@RequestPart("metadata") String metadata,
			@RequestPart("weights") List<MultipartFile> weights,
			@RequestPart(name = "index", required = false) MultipartFile index,
			@RequestPart(name = "graph", required = false) MultipartFile graph,
			@RequestPart(name = "files", required = false) List<MultipartFile> files,
			@RequestPart(name = Ingest.SECOND_MOMENTS, required = false) MultipartFile secondMoments,
			HttpServletRequest request) throws IOException {
		Uploads.onlyParts(request, "metadata", "weights", "index", "graph", "files", Ingest.SECOND_MOMENTS);
		return created(this.ingest.registerModel(this.metadata.read(metadata), Uploads.of("weights", weights),
				Uploads.of("index", index), Uploads.of("graph", graph), Uploads.folderFiles(files),
				Uploads.of(Ingest.SECOND_MOMENTS, secondMoments)));
	}

	/**
	 * Attaches a TorchScript graph to a registered model, so it can serve inference
	 * without a new upload of its weights.
	 */
	@PutMapping(path = "/{id}/graph", consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
	ArtifactResponse attachGraph(@PathVariable String id, @RequestPart("graph") MultipartFile graph,
			HttpServletRequest request) throws IOException {
		Uploads.onlyParts(request, "graph");
		return ArtifactResponse.of(this.ingest.attachGraph(resolve(id), Uploads.of("graph", graph)));
	}

	/**
	 * The model's whole ancestry: models, patches and compositions, with digests. The
	 * module's record is the body as it is; a wire copy would repeat it field for field.
	 */
	@GetMapping("/{id}/lineage")
	Lineage lineage(@PathVariable String id) {
		return this.lineages.of(resolve(id));
	}

	/**
	 * The model's weights as one safetensors file, ranges honoured; a sharded model is
	 * sent as the one file its shards make.
	 */
	@GetMapping("/{id}/weights")
	void weights(@PathVariable("id") String reference, HttpServletRequest request, HttpServletResponse response) {
		UUID id = resolve(reference);
		Registry.Weights weights = this.registry.weights(id);
		this.downloads.file(weights.file(), weights.etag(), id + ".safetensors", request, response, weights::close);
	}

	/**
	 * A new model transformed from this one (blocks dropped, a smaller student inherited,
	 * kernels inflated, or a quantized export), with the transform's report beside the
	 * model's fields.
	 */
	@PostMapping(path = "/{id}/transforms", consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<TransformResponse> transform(@PathVariable String id, @RequestBody TransformRequest request)
			throws IOException {
		Transforms.Transformation transformation = this.transforms.transform(resolve(id), request.transform(),
				request.target());
		ResponseEntity<ArtifactResponse> created = created(transformation.model());
		return ResponseEntity.status(created.getStatusCode())
			.headers(created.getHeaders())
			.body(new TransformResponse(created.getBody(), transformation.report()));
	}

	/** A transformed model and what the transform did. */
	record TransformResponse(@JsonUnwrapped ArtifactResponse model, Map<String, Object> transform) {
	}

}
