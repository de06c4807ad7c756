package dev.patchbay.api;

import java.util.UUID;

import org.springframework.http.HttpHeaders;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.inference.EvaluationRequest;
import dev.patchbay.inference.EvaluationView;
import dev.patchbay.inference.Evaluations;

@RestController
@RequestMapping("/api/v1/evaluations")
class EvaluationController {

	private final Evaluations evaluations;

	EvaluationController(Evaluations evaluations) {
		this.evaluations = evaluations;
	}

	/**
	 * 200 with the result, or 202 with a location to poll when the request asks for
	 * async.
	 */
	@PostMapping(consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<EvaluationView> evaluate(@RequestBody EvaluationRequest request) {
		EvaluationView view = this.evaluations.evaluate(request);
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

	@GetMapping("/{id}")
	EvaluationView get(@PathVariable UUID id) {
		return this.evaluations.get(id);
	}

}
