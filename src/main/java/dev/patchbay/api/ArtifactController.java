package dev.patchbay.api;

import java.io.IOException;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import jakarta.validation.constraints.Max;
import jakarta.validation.constraints.Min;
import tools.jackson.databind.JsonNode;

import org.springframework.core.annotation.AnnotationUtils;
import org.springframework.data.domain.PageRequest;
import org.springframework.data.domain.Sort;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.DeleteMapping;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PatchMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PutMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.servlet.support.ServletUriComponentsBuilder;

import dev.patchbay.api.Responses.ArtifactResponse;
import dev.patchbay.api.Responses.PageResponse;
import dev.patchbay.api.Responses.TensorResponse;
import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.ArtifactFilter;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.ArtifactUpdate;
import dev.patchbay.registry.ArtifactAlias;
import dev.patchbay.registry.Registry;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

/**
 * The read and delete endpoints that models, patches and datasets share; subclasses add
 * uploads and their own extras under their base path.
 */
abstract class ArtifactController {

	// Only parses change records the registry wrote itself, so the application's strict
	// mapper (unknown properties fail) is not needed.
	// The one thing subclasses differ in here: every query below is scoped to it, so an
	// id of a patch is a 404 under /models.
	private final ArtifactType type;

	protected final Registry registry;

	protected final MetadataReader metadata;

	ArtifactController(ArtifactType type, Registry registry, MetadataReader metadata) {
		this.type = type;
		this.registry = registry;
		this.metadata = metadata;
	}

	/**
	 * A page of artifacts. The filters combine with AND; {@code label} repeats, as
	 * {@code key} (present) or {@code key=value}, each of which must match. The page size
	 * is capped at 200 so one request cannot load the whole registry.
	 */
	@GetMapping
	PageResponse<ArtifactResponse> list(@RequestParam(required = false) String name,
			@RequestParam(required = false) String namePrefix, @RequestParam(required = false) String nameContains,
			@RequestParam(required = false) String family, @RequestParam(required = false) List<String> label,
			@RequestParam(defaultValue = "createdAt") String sort, @RequestParam(required = false) String order,
			@RequestParam(defaultValue = "0") @Min(0) int page,
			@RequestParam(defaultValue = "20") @Min(1) @Max(200) int size) {
		PageRequest pageable = PageRequest.of(page, size, sortOf(sort, order));
		// Every filter text is checked before the query, so a control character is a 400
		// naming the parameter instead of a database error.
		List<String> labels = (label != null) ? label : List.of();
		labels.forEach((value) -> filter("label", value));
		ArtifactFilter filter = new ArtifactFilter(filter("name", name), filter("family", family), labels,
				filter("namePrefix", namePrefix), filter("nameContains", nameContains));
		return PageResponse.of(this.registry.list(this.type, filter, pageable));
	}

	/**
	 * createdAt and version default to newest first, name to A–Z; ties are broken by name
	 * and version number, so that paging is stable.
	 */
	private static Sort sortOf(String sort, String order) {
		Sort.Direction direction;
		if (order == null) {
			direction = sort.equals("name") ? Sort.Direction.ASC : Sort.Direction.DESC;
		}
		else if (order.equals("asc") || order.equals("desc")) {
			direction = Sort.Direction.fromString(order);
		}
		else {
			throw invalidParameter("order", "must be asc or desc");
		}
		return switch (sort) {
			// Two artifacts can share a creation instant; without a tiebreaker a page
			// boundary could repeat or skip one.
			case "createdAt" -> Sort.by(direction, "createdAt").and(Sort.by(direction, "id"));
			case "name" -> Sort.by(direction, "name").and(Sort.by(direction, "versionNumber"));
			case "version" -> Sort.by(direction, "versionNumber").and(Sort.by(Sort.Direction.ASC, "name"));
			default -> throw invalidParameter("sort", "must be one of createdAt, name, version");
		};
	}

	private static InvalidInputException invalidParameter(String parameter, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_PARAMETER, parameter + ": " + reason,
				Map.of("field", parameter));
	}

	/** PostgreSQL cannot compare text with a NUL in it, and no stored name has one. */
	private static String filter(String parameter, String value) {
		if (value != null && value.chars().anyMatch(Character::isISOControl)) {
			throw invalidParameter(parameter, "must not contain control characters");
		}
		return value;
	}

	/** An id, or a reference: {@code name}, {@code name@version}, {@code name@alias}. */
	protected UUID resolve(String id) {
		// Resolved once per request, so a handler acts on the version the reference named
		// at that moment even if an alias moves meanwhile.
		return this.registry.resolve(this.type, filter("id", id), "id");
	}

	/** One artifact by id or reference. */
	@GetMapping("/{id}")
	ArtifactResponse get(@PathVariable String id) {
		return ArtifactResponse.of(this.registry.get(this.type, resolve(id)));
	}

	/**
	 * The tensor manifest, in file order: names, dtypes and shapes, without reading data.
	 */
	@GetMapping("/{id}/tensors")
	List<TensorResponse> tensors(@PathVariable String id) {
		return this.registry.tensors(this.type, resolve(id)).stream().map(TensorResponse::of).toList();
	}

	/**
	 * Deletes an artifact and the blobs no other artifact shares; 409 while a composition
	 * or a derived artifact still references it.
	 */
	@DeleteMapping("/{id}")
	ResponseEntity<Void> delete(@PathVariable String id) throws IOException {
		this.registry.delete(this.type, resolve(id));
		return ResponseEntity.noContent().build();
	}

	/**
	 * Changes labels and the description as a JSON merge patch: a label set to null goes,
	 * a description set to null is cleared, absent fields stay. The change is recorded.
	 */
	@PatchMapping(path = "/{id}", consumes = { MediaType.APPLICATION_JSON_VALUE, "application/merge-patch+json" })
	ArtifactResponse update(@PathVariable String id, @RequestBody JsonNode body) {
		if (body == null || !body.isObject()) {
			throw invalidField("body", "must be a JSON object with labels and/or description");
		}
		Map<String, String> labels = null;
		// Merge-patch semantics need three states for the description: absent (keep),
		// null (clear) and a value; the flag tells the first two apart.
		boolean descriptionGiven = false;
		String description = null;
		// Fields are checked by hand instead of binding a record, because a record cannot
		// tell an absent field from an explicit null.
		for (Map.Entry<String, JsonNode> field : body.properties()) {
			JsonNode value = field.getValue();
			switch (field.getKey()) {
				case "labels" -> {
					if (!value.isObject()) {
						throw invalidField("labels", "must be an object of label values (null removes one)");
					}
					labels = new LinkedHashMap<>();
					for (Map.Entry<String, JsonNode> label : value.properties()) {
						if (!label.getValue().isNull() && !label.getValue().isString()) {
							throw invalidField("labels." + label.getKey(), "must be a string, or null to remove it");
						}
						labels.put(label.getKey(), label.getValue().isNull() ? null : label.getValue().asString());
					}
				}
				case "description" -> {
					if (!value.isNull() && !value.isString()) {
						throw invalidField("description", "must be a string, or null to clear it");
					}
					descriptionGiven = true;
					description = value.isNull() ? null : value.asString();
				}
				default -> throw invalidField(field.getKey(), "is not a changeable field; only labels and description");
			}
		}
		return ArtifactResponse.of(this.registry.update(this.type, resolve(id),
				new ArtifactUpdate(labels, descriptionGiven, description)));
	}

	private static InvalidInputException invalidField(String field, String reason) {
		return new InvalidInputException(ProblemKind.INVALID_FIELD, field + ": " + reason, Map.of("field", field));
	}

	/** The changes made after registration, oldest first. */
	@GetMapping("/{id}/changes")
	List<ChangeResponse> changes(@PathVariable String id) {
		return this.registry.changes(this.type, resolve(id))
			.stream()
			.map((change) -> new ChangeResponse(change.changedAt(), change.role(), change.requestId(),
					Responses.storedJson(change.changes())))
			.toList();
	}

	record ChangeResponse(Instant changedAt, String role, String requestId, JsonNode changes) {
	}

	/**
	 * The aliases of a name. Alias routes take the bare name, not a reference: an alias
	 * belongs to the name, whichever version it points at.
	 */
	@GetMapping("/{name}/aliases")
	List<AliasResponse> aliases(@PathVariable String name) {
		return this.registry.aliases(this.type, name).stream().map((alias) -> AliasResponse.of(name, alias)).toList();
	}

	@GetMapping("/{name}/aliases/{alias}")
	AliasResponse alias(@PathVariable String name, @PathVariable String alias) {
		return AliasResponse.of(name, this.registry.alias(this.type, name, alias));
	}

	/** Points an alias at a version: 201 when the alias is new, else 200. */
	@PutMapping(path = "/{name}/aliases/{alias}", consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<AliasResponse> setAlias(@PathVariable String name, @PathVariable String alias,
			@RequestBody AliasRequest request) {
		// The version may be sent as a number (2) or a string ("v2", or another alias);
		// null is passed on for the registry to refuse, anything else becomes "" and is
		// refused here.
		String version = (request == null || request.version() == null) ? null : request.version().isNumber()
				? request.version().asString() : request.version().isString() ? request.version().asString() : "";
		if (version != null && version.isEmpty()) {
			throw invalidField("version", "must be a version string or number");
		}
		Registry.AliasMove move = this.registry.setAlias(this.type, name, alias, version);
		return ResponseEntity.status(move.created() ? HttpStatus.CREATED : HttpStatus.OK)
			.body(AliasResponse.of(name, move.alias()));
	}

	@DeleteMapping("/{name}/aliases/{alias}")
	ResponseEntity<Void> deleteAlias(@PathVariable String name, @PathVariable String alias) {
		this.registry.deleteAlias(this.type, name, alias);
		return ResponseEntity.noContent().build();
	}

	/**
	 * @param version a version string, a version number or another alias of the name
	 */
	record AliasRequest(JsonNode version) {
	}

	record AliasResponse(String name, String alias, String version, UUID id, Instant updatedAt) {

		static AliasResponse of(String name, ArtifactAlias alias) {
			return new AliasResponse(name, alias.alias(), alias.version(), alias.artifactId(), alias.updatedAt());
		}

	}

	/** 201 with the new artifact and its location, whichever endpoint created it. */
	ResponseEntity<ArtifactResponse> created(ArtifactDetails details) {
		// The subclass's base path (models, patches, datasets), so the Location header is
		// right for whichever type the controller serves.
		String collection = AnnotationUtils.findAnnotation(getClass(), RequestMapping.class).value()[0];
		return ResponseEntity
			.created(ServletUriComponentsBuilder.fromCurrentContextPath()
				.path(collection + "/{id}")
				.buildAndExpand(details.id())
				.toUri())
			.body(ArtifactResponse.of(details));
	}

}
