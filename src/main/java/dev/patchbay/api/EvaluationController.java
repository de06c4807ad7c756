package dev.patchbay.api;

import java.util.List;
import java.util.Map;
import java.util.UUID;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;

import org.springframework.data.domain.PageRequest;
import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.api.Responses.PageResponse;
import dev.patchbay.inference.Evaluations;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

@RestController
@RequestMapping("/api/v1/evaluations")
class EvaluationController {

	private final Evaluations evaluations;

	private static final List<String> STATUSES = List.of("running", "done", "failed");

	EvaluationController(Evaluations evaluations) {
		this.evaluations = evaluations;
	}

	/**
	 * 200 with the result, or 202 with a location to poll when the request asks for
	 * async.
	 */
	@PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<EvaluationView> evaluate(@RequestBody EvaluationRequest request) {
		EvaluationView view = EvaluationView.of(this.evaluations.evaluate(request.draft()));
		if (!Boolean.TRUE.equals(request.async())) {
			return ResponseEntity.ok(view);
		}
		// A hint for pollers: evaluations of the test sets here take seconds.
		return ResponseEntity.accepted()
			.header(HttpHeaders.RETRY_AFTER, "1")
			.location(
					ServletUriComponentsBuilder.fromCurrentRequestUri().path("/{id}").buildAndExpand(view.id()).toUri())
			.body(view);
	}

	/** Newest first, optionally of one status. */
	@GetMapping
	PageResponse<EvaluationView> list(@RequestParam(required = false) String status,
			@RequestParam(defaultValue = "0") @Min(0) int page,
			@RequestParam(defaultValue = "20") @Min(1) @Max(200) int size) {
		if (status != null && !STATUSES.contains(status)) {
			throw new InvalidInputException(ProblemKind.INVALID_PARAMETER, "status: must be one of " + STATUSES,
					Map.of("field", "status"));
		}
		return PageResponse.from(this.evaluations.list(status, PageRequest.of(page, size)).map(EvaluationView::of));
	}

	@GetMapping("/{id}")
	EvaluationView get(@PathVariable UUID id) {
		return EvaluationView.of(this.evaluations.get(id));
	}

}
