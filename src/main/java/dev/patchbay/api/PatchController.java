package dev.patchbay.api;

import java.io.IOException;
import java.util.List;
import java.util.UUID;

import com.fasterxml.jackson.annotation.JsonUnwrapped;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;

import org.springframework.http.MediaType;
import org.springframework.http.ResponseEntity;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.PathVariable;
import org.springframework.web.bind.annotation.PostMapping;
import org.springframework.web.bind.annotation.RequestBody;
import org.springframework.web.bind.annotation.RequestMapping;
import org.springframework.web.bind.annotation.RequestParam;
import org.springframework.web.bind.annotation.RequestPart;
import org.springframework.web.bind.annotation.RestController;
import org.springframework.web.multipart.MultipartFile;

import dev.patchbay.api.DerivationRequests.DiffRequest;
import dev.patchbay.api.DerivationRequests.LoraCombinationRequest;
import dev.patchbay.api.DerivationRequests.LoraExtractionRequest;
import dev.patchbay.api.DerivationRequests.RwsRequest;
import dev.patchbay.api.Responses.ArtifactResponse;
import dev.patchbay.api.Responses.CompatibilityResponse;
import dev.patchbay.composition.Derivations;
import dev.patchbay.composition.LoraCombinations;
import dev.patchbay.composition.LoraExtractions;
import dev.patchbay.composition.PatchAudit;
import dev.patchbay.composition.PatchAudits;
import dev.patchbay.registry.ArtifactType;
import dev.patchbay.registry.FolderFile;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.Registry;
import dev.patchbay.registry.StoredFile;

/**
 * Patches: uploaded (a diff or signature as safetensors, or a PEFT LoRA adapter) or
 * derived here (a diff of two models, a LoRA extracted from a diff, a combination of
 * LoRAs, an RWS patch), plus their weights, compatibility and audit. The shared reads and
 * deletes are in {@link ArtifactController}.
 */
@RestController
@RequestMapping("/api/v1/patches")
class PatchController extends ArtifactController {

	private final Ingest ingest;

	private final Derivations derivations;

	private final Downloads downloads;

	private final LoraExtractions extractions;

	private final LoraCombinations combinations;

	private final PatchAudits audits;

	PatchController(Registry registry, MetadataReader metadata, Ingest ingest, Derivations derivations,
			Downloads downloads, LoraExtractions extractions, LoraCombinations combinations, PatchAudits audits) {
		super(ArtifactType.PATCH, registry, metadata);
		this.audits = audits;
		this.extractions = extractions;
		this.combinations = combinations;
		this.ingest = ingest;
		this.derivations = derivations;
		this.downloads = downloads;
	}

	/**
	 * Registers an uploaded patch: {@code weights} for a diff or signature, or
	 * {@code adapter_config} with {@code adapter_model} for a LoRA; any other part is
	 * refused by name rather than ignored.
	 */
	@PostMapping(consumes = MediaType.MULTIPART_FORM_DATA_VALUE)
	ResponseEntity<ArtifactResponse> register(@RequestPart("metadata") String metadata,
			@RequestPart(name = "weights", required = false) List<MultipartFile> weights,
			@RequestPart(name = "adapter_config", required = false) MultipartFile adapterConfig,
			@RequestPart(name = "adapter_model", required = false) MultipartFile adapterModel,
			@RequestPart(name = "files", required = false) List<MultipartFile> files,
			@RequestPart(name = Ingest.SECOND_MOMENTS, required = false) MultipartFile secondMoments,
			HttpServletRequest request) throws IOException {
		Uploads.onlyParts(request, "metadata", "weights", "adapter_config", "adapter_model", "files",
				Ingest.SECOND_MOMENTS);
		return created(this.ingest.registerPatch(this.metadata.read(metadata), Uploads.of("weights", weights),
				Uploads.of("adapter_config", adapterConfig), Uploads.of("adapter_model", adapterModel),
				Uploads.folderFiles(files), Uploads.of(Ingest.SECOND_MOMENTS, secondMoments)));
	}

	/**
	 * A patch's stored weights byte for byte: the safetensors file of a diff or
	 * signature, the adapter model of a LoRA patch.
	 */
	@GetMapping("/{id}/weights")
	void weights(@PathVariable("id") String reference, HttpServletRequest request, HttpServletResponse response) {
		UUID id = resolve(reference);
		// Every registered patch has one of the two.
		StoredFile file = this.registry.get(ArtifactType.PATCH, id)
			.files()
			.stream()
			.filter((candidate) -> candidate.role().equals("weights") || candidate.role().equals("adapter_model"))
			.findFirst()
			.orElseThrow();
		FolderFile.Opened blob = this.registry.blob(file);
		// The content digest is the ETag: the stored bytes never change under an id.
		this.downloads.file(blob.file(), file.digest(), id + ".safetensors", request, response, blob::close);
	}

	/** A diff patch: fine-tuned minus base over the tensors both models have. */
	@PostMapping(path = "/diff", consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<ArtifactResponse> diff(@RequestBody DiffRequest request) throws IOException {
		return created(this.derivations.diff(request.derivation(), request.patch()));
	}

	/**
	 * A LoRA patch extracted by truncated SVD, with the per-module report beside the
	 * patch's fields.
	 */
	@PostMapping(path = "/lora-extraction", consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<ExtractionResponse> loraExtraction(@RequestBody LoraExtractionRequest request) throws IOException {
		LoraExtractions.Extraction extraction = this.extractions.extract(request.derivation(), request.patch());
		ResponseEntity<ArtifactResponse> created = created(extraction.patch());
		return ResponseEntity.status(created.getStatusCode())
			.headers(created.getHeaders())
			.body(new ExtractionResponse(created.getBody(), extraction.modules()));
	}

	/** A LoRA patch combined from LoRA patches. */
	@PostMapping(path = "/lora-combination", consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<ArtifactResponse> loraCombination(@RequestBody LoraCombinationRequest request) throws IOException {
		return created(this.combinations.combine(request.derivation(), request.patch()));
	}

	/**
	 * An extracted adapter: the patch, and per module its outcome, rank and the fraction
	 * of its delta's energy kept.
	 */
	record ExtractionResponse(@JsonUnwrapped ArtifactResponse patch, List<LoraExtractions.ModuleReport> extraction) {
	}

	/**
	 * An RWS patch: the robust model's delta with its projection onto the clean model's
	 * delta removed, as {@link Derivations#rws} defines it.
	 */
	@PostMapping(path = "/rws", consumes = MediaType.APPLICATION_JSON_VALUE)
	ResponseEntity<ArtifactResponse> rws(@RequestBody RwsRequest request) throws IOException {
		return created(this.derivations.rws(request.derivation(), request.patch()));
	}

	/**
	 * Whether the patch applies to a model, tensor by tensor, without computing anything.
	 */
	@GetMapping("/{id}/compatibility")
	CompatibilityResponse compatibility(@PathVariable String id, @RequestParam String modelId) {
		return CompatibilityResponse.of(this.registry.compatibility(resolve(id),
				this.registry.resolve(ArtifactType.MODEL, modelId, "modelId")));
	}

	/**
	 * The patch's audit against a model, by default its own base; the module's record is
	 * the body as it is.
	 */
	@GetMapping("/{id}/audit")
	PatchAudit audit(@PathVariable UUID id, @RequestParam(required = false) UUID modelId) throws IOException {
		return this.audits.audit(id, modelId);
	}

}
