package dev.patchbay.api;

import java.io.IOException;

import jakarta.servlet.http.HttpServletRequest;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;

import dev.patchbay.api.Responses.ArtifactResponse;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.Registry;

@RestController
@RequestMapping("/api/v1/datasets")
class DatasetController extends ArtifactController {

	private final Ingest ingest;

	DatasetController(Registry registry, MetadataReader metadata, Ingest ingest) {
		super(ArtifactType.DATASET, registry, metadata);
		this.ingest = ingest;
	}

	@PostMapping(consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
	ResponseEntity<ArtifactResponse> register(@RequestPart("metadata") String metadata,
			@RequestPart("data") MultipartFile data, HttpServletRequest request) throws IOException {
		Uploads.onlyParts(request, "metadata", "data");
		return created(this.ingest.registerDataset(this.metadata.read(metadata), Uploads.of("data", data)));
	}

}
