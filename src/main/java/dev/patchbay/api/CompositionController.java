package dev.patchbay.api;

import java.io.IOException;
import java.util.UUID;

import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestHeader;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.mvc.method.annotation.StreamingResponseBody;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.composition.CompositionRequest;
import dev.patchbay.composition.CompositionView;
import dev.patchbay.composition.Compositions;

@RestController
@RequestMapping("/api/v1/compositions")
class CompositionController {

	private final Compositions compositions;

	CompositionController(Compositions compositions) {
		this.compositions = compositions;
	}

	@PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<CompositionView> create(@RequestBody CompositionRequest request) throws IOException {
		Compositions.Created created = this.compositions.create(request);
		if (!created.created()) {
			return ResponseEntity.ok(created.view());
		}
		return ResponseEntity
			.created(ServletUriComponentsBuilder.fromCurrentRequestUri()
				.path("/{id}")
				.buildAndExpand(created.view().id())
				.toUri())
			.body(created.view());
	}

	@GetMapping("/{id}")
	CompositionView get(@PathVariable UUID id) {
		return this.compositions.get(id);
	}

	@GetMapping("/{id}/weights")
	ResponseEntity<StreamingResponseBody> weights(@PathVariable UUID id,
			@RequestHeader(name = HttpHeaders.RANGE, required = false) String range,
			@RequestHeader(name = HttpHeaders.IF_NONE_MATCH, required = false) String ifNoneMatch) {
		Compositions.Weights weights = this.compositions.weights(id);
		ResponseEntity<StreamingResponseBody> response;
		try {
			response = response(id, weights, range, ifNoneMatch);
		}
		catch (RuntimeException ex) {
			weights.close();
			throw ex;
		}
		StreamingResponseBody body = response.getBody();
		if (body == null) {
			weights.close();
			return response;
		}
		// The result stays pinned in the cache until its bytes are sent.
		return ResponseEntity.status(response.getStatusCode()).headers(response.getHeaders()).body((out) -> {
			try (weights) {
				body.writeTo(out);
			}
		});
	}

	private static ResponseEntity<StreamingResponseBody> response(UUID id, Compositions.Weights weights, String range,
			String ifNoneMatch) {
		String filename = id + ".safetensors";
		if (weights.stored() != null) {
			return ByteRangeDownload.of(weights.stored(), weights.etag(), filename, range, ifNoneMatch);
		}
		// Still computing: the whole file streams as it is written, so a Range is not
		// honoured.
		return ResponseEntity.ok()
			.contentType(MediaType.APPLICATION_OCTET_STREAM)
			.contentLength(weights.size())
			.eTag("\"" + weights.etag() + "\"")
			.header(HttpHeaders.CONTENT_DISPOSITION, "attachment; filename=\"" + filename + "\"")
			.body(weights.live()::writeTo);
	}

	@DeleteMapping("/{id}")
	ResponseEntity<Void> delete(@PathVariable UUID id) throws IOException {
		this.compositions.delete(id);
		return ResponseEntity.noContent().build();
	}

}
