package dev.patchbay.api;

import java.util.List;
import java.util.Map;
import java.util.UUID;

import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.GraphSignature;
import dev.patchbay.registry.PatchKind;

/**
 * The {@code metadata} part of an upload as a client sends it. It carries no rules of its
 * own: the registry's {@link ArtifactMetadata} holds what a name, version or label must
 * be, since artifacts the service makes itself (a materialized composition, a derived
 * patch) follow the same rules, and its violations name the same fields.
 *
 * @param kind for patches, what kind of patch it is; absent for models and datasets
 * @param name a human name, unique together with the version
 * @param version an optional version; without one the artifact gets the next number of
 * its name
 * @param family an optional model family, e.g. {@code llama}
 * @param baseModelId for patches, the model they were made against, if known
 * @param labels free-form key/value labels used in list filters
 * @param signature for models with a graph, the inputs and outputs inference declares
 * @param description free text, changeable later
 * @param derivedFrom for models, the model this one was fine-tuned from outside Patchbay
 */
record UploadMetadata(PatchKind kind, String name, String version, String family, UUID baseModelId,
		Map<String, String> labels, Signature signature, String description, UUID derivedFrom) {

	// Nulls pass through, in lists too, so that validation names the missing field
	// rather than this mapping failing on it.
	ArtifactMetadata metadata() {
		return new ArtifactMetadata(this.kind, this.name, this.version, this.family, this.baseModelId, this.labels,
				(this.signature != null) ? this.signature.signature() : null, this.description, this.derivedFrom);
	}

	/**
	 * What a model's graph takes and returns; shapes use -1 for a variable dimension.
	 *
	 * @param inputs the positional inputs, in order
	 * @param outputs the outputs, in order
	 */
	record Signature(List<Declaration> inputs, List<Declaration> outputs) {

		GraphSignature signature() {
			return new GraphSignature(declarations(this.inputs), declarations(this.outputs));
		}

		private static List<GraphSignature.Declaration> declarations(List<Declaration> declarations) {
			return (declarations != null) ? declarations.stream()
				.map((declaration) -> (declaration != null) ? declaration.declaration() : null)
				.toList() : null;
		}

	}

	/**
	 * One input or output.
	 *
	 * @param name its name in inference requests and responses
	 * @param datatype a KServe v2 datatype, e.g. {@code FP32}
	 * @param shape dimensions, -1 where variable
	 */
	record Declaration(String name, String datatype, List<Long> shape) {

		GraphSignature.Declaration declaration() {
			return new GraphSignature.Declaration(this.name, this.datatype, this.shape);
		}

	}

}
