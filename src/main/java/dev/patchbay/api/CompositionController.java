package dev.patchbay.api;

import java.io.IOException;
import java.util.UUID;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.composition.CompositionProperties;
import dev.patchbay.composition.CompositionRequest;
import dev.patchbay.composition.CompositionView;
import dev.patchbay.composition.Compositions;

@RestController
@RequestMapping("/api/v1/compositions")
class CompositionController {

	private final Compositions compositions;

	private final Downloads downloads;

	private final CompositionProperties limits;

	CompositionController(Compositions compositions, Downloads downloads, CompositionProperties limits) {
		this.compositions = compositions;
		this.downloads = downloads;
		this.limits = limits;
	}

	@PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<CompositionView> create(@RequestBody CompositionRequest request) throws IOException {
		request.validate(this.limits);
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
	void weights(@PathVariable UUID id, HttpServletRequest request, HttpServletResponse response) {
		Compositions.Weights weights = this.compositions.weights(id);
		String filename = id + ".safetensors";
		if (weights.stored() != null) {
			this.downloads.file(weights.stored(), weights.etag(), filename, request, response);
			return;
		}
		// Still computing: the whole file streams as it is written, so a Range is not
		// honoured.
		this.downloads.live(weights.live()::writeTo, weights.size(), weights.etag(), filename, request, response);
	}

	@DeleteMapping("/{id}")
	ResponseEntity<Void> delete(@PathVariable UUID id) throws IOException {
		this.compositions.delete(id);
		return ResponseEntity.noContent().build();
	}

}
