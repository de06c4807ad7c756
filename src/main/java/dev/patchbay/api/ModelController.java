package dev.patchbay.api;

import java.io.IOException;
import java.util.List;
import java.util.UUID;

import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;
import org.springframework.web.servlet.mvc.method.annotation.StreamingResponseBody;

import dev.patchbay.api.Responses.ArtifactResponse;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.Registry;

@RestController
@RequestMapping("/api/v1/models")
class ModelController extends ArtifactController {

	private final Ingest ingest;

	ModelController(Registry registry, MetadataReader metadata, Ingest ingest) {
		super(ArtifactType.MODEL, registry, metadata);
		this.ingest = ingest;
	}

	@PostMapping(consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
	ResponseEntity<ArtifactResponse> register(@RequestPart("metadata") String metadata,
			@RequestPart("weights") List<MultipartFile> weights,
			@RequestPart(name = "index", required = false) MultipartFile index,
			@RequestPart(name = "graph", required = false) MultipartFile graph) throws IOException {
		return created(this.ingest.registerModel(this.metadata.read(metadata), Uploads.of("weights", weights),
				Uploads.of("index", index), Uploads.of("graph", graph)));
	}

	@PutMapping(path = "/{id}/graph", consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
	ArtifactResponse attachGraph(@PathVariable UUID id, @RequestPart("graph") MultipartFile graph) throws IOException {
		return ArtifactResponse.of(this.ingest.attachGraph(id, Uploads.of("graph", graph)));
	}

	@GetMapping("/{id}/weights")
	ResponseEntity<StreamingResponseBody> weights(@PathVariable UUID id,
			@RequestHeader(name = HttpHeaders.RANGE, required = false) String range,
			@RequestHeader(name = HttpHeaders.IF_NONE_MATCH, required = false) String ifNoneMatch) {
		Registry.Weights weights = this.registry.weights(id);
		return ByteRangeDownload.of(weights.file(), weights.etag(), id + ".safetensors", range, ifNoneMatch);
	}

}
