package dev.patchbay.api;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;

import org.springframework.core.annotation.AnnotationUtils;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.api.Responses.ArtifactResponse;
import dev.patchbay.api.Responses.PageResponse;
import dev.patchbay.api.Responses.TensorResponse;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactFilter;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.InvalidInputException;

/**
 * The read and delete endpoints that models, patches and datasets share; subclasses add
 * uploads and their own extras under their base path.
 */
abstract class ArtifactController {

	private final ArtifactType type;

	protected final Registry registry;

	protected final MetadataReader metadata;

	ArtifactController(ArtifactType type, Registry registry, MetadataReader metadata) {
		this.type = type;
		this.registry = registry;
		this.metadata = metadata;
	}

	@GetMapping
	PageResponse<ArtifactResponse> list(@RequestParam(required = false) String name,
			@RequestParam(required = false) String family, @RequestParam(required = false) String label,
			@RequestParam(defaultValue = "0") @Min(0) int page,
			@RequestParam(defaultValue = "20") @Min(1) @Max(200) int size) {
		PageRequest pageable = PageRequest.of(page, size, Sort.by(Sort.Direction.DESC, "createdAt"));
		ArtifactFilter filter = new ArtifactFilter(filter("name", name), filter("family", family),
				filter("label", label));
		return PageResponse.of(this.registry.list(this.type, filter, pageable));
	}

	/** PostgreSQL cannot compare text with a NUL in it, and no stored name has one. */
	private static String filter(String parameter, String value) {
		if (value != null && value.chars().anyMatch(Character::isISOControl)) {
			throw new InvalidInputException("invalid-parameter", "Invalid parameter",
					parameter + ": must not contain control characters", Map.of("field", parameter));
		}
		return value;
	}

	@GetMapping("/{id}")
	ArtifactResponse get(@PathVariable UUID id) {
		return ArtifactResponse.of(this.registry.get(this.type, id));
	}

	@GetMapping("/{id}/tensors")
	List<TensorResponse> tensors(@PathVariable UUID id) {
		return this.registry.tensors(this.type, id).stream().map(TensorResponse::of).toList();
	}

	@DeleteMapping("/{id}")
	ResponseEntity<Void> delete(@PathVariable UUID id) throws IOException {
		this.registry.delete(this.type, id);
		return ResponseEntity.noContent().build();
	}

	/** 201 with the new artifact and its location, whichever endpoint created it. */
	ResponseEntity<ArtifactResponse> created(ArtifactDetails details) {
		String collection = AnnotationUtils.findAnnotation(getClass(), RequestMapping.class).value()[0];
		return ResponseEntity
			.created(ServletUriComponentsBuilder.fromCurrentContextPath()
				.path(collection + "/{id}")
				.buildAndExpand(details.id())
				.toUri())
			.body(ArtifactResponse.of(details));
	}

}
