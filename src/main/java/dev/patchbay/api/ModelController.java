package dev.patchbay.api;

import java.io.IOException;
import java.util.List;
import java.util.UUID;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;

import dev.patchbay.api.Responses.ArtifactResponse;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.Registry;

@RestController
@RequestMapping("/api/v1/models")
class ModelController extends ArtifactController {

	private final Ingest ingest;

	private final Downloads downloads;

	ModelController(Registry registry, MetadataReader metadata, Ingest ingest, Downloads downloads) {
		super(ArtifactType.MODEL, registry, metadata);
		this.ingest = ingest;
		this.downloads = downloads;
	}

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

	@PutMapping(path = "/{id}/graph", consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
	ArtifactResponse attachGraph(@PathVariable UUID id, @RequestPart("graph") MultipartFile graph,
			HttpServletRequest request) throws IOException {
		Uploads.onlyParts(request, "graph");
		return ArtifactResponse.of(this.ingest.attachGraph(id, Uploads.of("graph", graph)));
	}

	@GetMapping("/{id}/weights")
	void weights(@PathVariable UUID id, HttpServletRequest request, HttpServletResponse response) {
		Registry.Weights weights = this.registry.weights(id);
		this.downloads.file(weights.file(), weights.etag(), id + ".safetensors", request, response);
	}

}
