package dev.patchbay.api;

import java.io.IOException;
import java.util.Arrays;
import java.util.Map;
import java.util.UUID;

import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;

import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.api.Responses.PageResponse;
import dev.patchbay.composition.CompositionStatus;
import dev.patchbay.composition.Compositions;
import dev.patchbay.security.Role;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * Compositions over HTTP: create from a JSON recipe or a mergekit YAML config, read,
 * cancel, delete, and download the merged weights, even while they are being computed.
 * The work itself is queued; this controller only maps requests onto {@link Compositions}
 * and its outcomes onto statuses.
 */
@RestController
@RequestMapping("/api/v1/compositions")
class CompositionController {

	private final Compositions compositions;

	private final Downloads downloads;

	CompositionController(Compositions compositions, Downloads downloads) {
		this.compositions = compositions;
		this.downloads = downloads;
	}

	/** Newest first, optionally of one status. */
	@GetMapping
	PageResponse<CompositionView> list(@RequestParam(required = false) String status,
			@RequestParam(defaultValue = "0") @Min(0) int page,
			@RequestParam(defaultValue = "20") @Min(1) @Max(200) int size) {
		return PageResponse.from(this.compositions
			.list(statusOf(status), PageRequest.of(page, size, Sort.by(Sort.Direction.DESC, "createdAt")))
			.map(CompositionView::of));
	}

	/**
	 * The status by its wire name ({@code queued}, {@code ready}…), not the enum
	 * constant's.
	 */
	private static CompositionStatus statusOf(String status) {
		if (status == null) {
			return null;
		}
		return Arrays.stream(CompositionStatus.values())
			.filter((candidate) -> candidate.wireName().equals(status))
			.findFirst()
			.orElseThrow(() -> new InvalidInputException(ProblemKind.INVALID_PARAMETER,
					"status: must be one of "
							+ Arrays.stream(CompositionStatus.values()).map(CompositionStatus::wireName).toList(),
					Map.of("field", "status")));
	}

	/**
	 * Creates a composition: 201 with its location when new, 200 with the existing one
	 * when the same recipe was already submitted, since identical recipes share one
	 * result.
	 */
	@PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<CompositionView> create(@RequestBody CompositionRequest request, HttpServletRequest http)
			throws IOException {
		// Only an admin may acknowledge a flagged patch audit.
		// The key filter left the caller's role in the request; the composition module
		// gets a plain flag, nothing of HTTP.
		boolean admin = http.getAttribute(ApiKeyFilter.ROLE_ATTRIBUTE) instanceof Role role
				&& role.includes(Role.ADMIN);
		return respond(
				this.compositions.create(request.draft(), Boolean.TRUE.equals(request.acknowledgeAudit()), admin));
	}

	/** A mergekit config as the body. */
	@PostMapping(consumes = { MediaType.APPLICATION_YAML_VALUE, "application/x-yaml" })
	ResponseEntity<CompositionView> createFromMergekit(@RequestBody String yaml) throws IOException {
		return respond(this.compositions.createFromMergekit(yaml));
	}

	/** 201 with a Location for a new composition, 200 for one that already existed. */
	private static ResponseEntity<CompositionView> respond(Compositions.Created created) {
		CompositionView view = CompositionView.of(created.composition());
		if (!created.created()) {
			return ResponseEntity.ok(view);
		}
		return ResponseEntity
			.created(
					ServletUriComponentsBuilder.fromCurrentRequestUri().path("/{id}").buildAndExpand(view.id()).toUri())
			.body(view);
	}

	@GetMapping("/{id}")
	CompositionView get(@PathVariable UUID id) {
		return CompositionView.of(this.compositions.get(id));
	}

	/**
	 * Cancels a queued or running composition: 200 when it was queued, 202 with
	 * Retry-After when its worker was running (it stops at its next chunk, dropping what
	 * it wrote); 409 once ready or failed.
	 */
	@PostMapping("/{id}/cancel")
	ResponseEntity<CompositionView> cancel(@PathVariable UUID id) {
		Compositions.Cancelled cancelled = this.compositions.cancel(id);
		CompositionView view = CompositionView.of(cancelled.composition());
		if (!cancelled.wasRunning()) {
			return ResponseEntity.ok(view);
		}
		// The client polls the composition (Location) after a second to see it cancelled.
		return ResponseEntity.accepted()
			.header(HttpHeaders.RETRY_AFTER, "1")
			.location(ServletUriComponentsBuilder.fromCurrentContextPath()
				.path("/api/v1/compositions/{id}")
				.buildAndExpand(id)
				.toUri())
			.body(view);
	}

	/** The recipe as a mergekit config, where mergekit can express it (else a 422). */
	@GetMapping("/{id}/recipe.yaml")
	ResponseEntity<String> recipeYaml(@PathVariable UUID id) {
		return ResponseEntity.ok()
			.contentType(MediaType.parseMediaType("application/yaml"))
			.body(this.compositions.recipeYaml(id));
	}

	/**
	 * The merged weights as one safetensors file, served from the result cache with
	 * ranges, or streamed while the composition still computes.
	 */
	@GetMapping("/{id}/weights")
	void weights(@PathVariable UUID id, HttpServletRequest request, HttpServletResponse response) {
		// The result stays pinned in the cache until its bytes are sent.
		Compositions.Weights weights = this.compositions.weights(id);
		String filename = id + ".safetensors";
		if (weights.stored() != null) {
			this.downloads.file(weights.stored(), weights.etag(), filename, request, response, weights::close);
			return;
		}
		// Still computing: the whole file streams as it is written, so a Range is not
		// honoured.
		this.downloads.live(weights.live()::writeTo, weights.size(), weights.etag(), filename, request, response,
				weights::close);
	}

	/**
	 * Deletes a composition (409 while it computes); its result blob goes too unless a
	 * model materialized from it still uses it.
	 */
	@DeleteMapping("/{id}")
	ResponseEntity<Void> delete(@PathVariable UUID id) throws IOException {
		this.compositions.delete(id);
		return ResponseEntity.noContent().build();
	}

}
