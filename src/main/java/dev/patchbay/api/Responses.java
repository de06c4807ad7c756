package dev.patchbay.api;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.data.domain.Page;

import dev.patchbay.registry.ArtifactDetails;
import dev.patchbay.registry.CompatibilityReport;
import dev.patchbay.registry.LineageLink;
import dev.patchbay.registry.PatchKind;
import dev.patchbay.registry.StoredFile;
import dev.patchbay.shared.TensorSpec;

/**
 * Response bodies of the registry endpoints.
 */
final class Responses {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private Responses() {
	}

	/**
	 * A JSON column as it is stored (a config, a change, a stored problem), inlined in a
	 * response as an object rather than as a string; null stays null.
	 */
	static JsonNode storedJson(String stored) {
		return (stored != null) ? JSON.readTree(stored) : null;
	}

	/**
	 * A model, patch or dataset. Patch-only fields are omitted for the others.
	 */
	record ArtifactResponse(UUID id, PatchKind kind, String name, String version, int versionNumber,
			List<String> aliases, String description, String family, UUID baseModelId, Map<String, String> labels,
			long sizeBytes, long parameterCount, int tensorCount, List<FileResponse> files,
			List<LineageResponse> lineage, UUID compositionId, JsonNode config, Instant createdAt) {

		static ArtifactResponse of(ArtifactDetails details) {
			return new ArtifactResponse(details.id(), details.kind(), details.name(), details.version(),
					details.versionNumber(), details.aliases(), details.description(), details.family(),
					details.baseModelId(), details.labels(), details.sizeBytes(), details.parameterCount(),
					details.tensorCount(), details.files().stream().map(FileResponse::of).toList(),
					details.lineage().stream().map(LineageResponse::of).toList(), details.compositionId(),
					storedJson(details.config()), details.createdAt());
		}

	}

	record FileResponse(String role, String fileName, String sha256, long sizeBytes) {

		static FileResponse of(StoredFile file) {
			return new FileResponse(file.role(), file.fileName(), file.digest(), file.sizeBytes());
		}

	}

	record LineageResponse(UUID sourceId, String relation) {

		static LineageResponse of(LineageLink link) {
			return new LineageResponse(link.sourceId(), link.relation());
		}

	}

	record CompatibilityResponse(boolean compatible, List<IncompatibleTensor> problems) {

		static CompatibilityResponse of(CompatibilityReport report) {
			return new CompatibilityResponse(report.compatible(),
					report.problems().stream().map(IncompatibleTensor::of).toList());
		}

	}

	record IncompatibleTensor(String tensor, String message, List<Long> expectedShape, List<Long> actualShape) {

		static IncompatibleTensor of(CompatibilityReport.Problem problem) {
			return new IncompatibleTensor(problem.tensor(), problem.message(), problem.expectedShape(),
					problem.actualShape());
		}

	}

	record TensorResponse(String name, String dtype, List<Long> shape) {

		static TensorResponse of(TensorSpec spec) {
			return new TensorResponse(spec.name(), spec.dtype().name(), spec.shape());
		}

	}

	record PageResponse<T>(List<T> items, int page, int size, long totalItems, int totalPages) {

		static PageResponse<ArtifactResponse> of(Page<ArtifactDetails> page) {
			return from(page.map(ArtifactResponse::of));
		}

		static <T> PageResponse<T> from(Page<T> page) {
			return new PageResponse<>(page.getContent(), page.getNumber(), page.getSize(), page.getTotalElements(),
					page.getTotalPages());
		}

	}

}
