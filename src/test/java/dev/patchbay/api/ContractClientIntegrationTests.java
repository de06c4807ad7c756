package dev.patchbay.api;

import java.io.File;
import java.math.BigDecimal;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

import generated.patchbay.client.ApiClient;
import generated.patchbay.client.api.CompositionsApi;
import generated.patchbay.client.api.ModelsApi;
import generated.patchbay.client.api.PatchesApi;
import generated.patchbay.client.model.Artifact;
import generated.patchbay.client.model.Composition;
import generated.patchbay.client.model.CompositionRequest;
import generated.patchbay.client.model.CompositionRequestTermsInner;
import generated.patchbay.client.model.DiffRequest;
import generated.patchbay.client.model.ModelMetadata;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.env.Environment;

import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The contract is usable, not just valid: a Java client generated from openapi.yaml by
 * OpenAPI Generator (at build time, into target/) uploads models, derives a patch,
 * composes and reads the composition back, with nothing but its generated types.
 */
@IntegrationTest
class ContractClientIntegrationTests {

	@Autowired
	Environment environment;

	@Test
	void aGeneratedClientUploadsComposesAndReadsTheComposition() throws InterruptedException {
		ApiClient client = new ApiClient();
		client.setBasePath("http://localhost:" + this.environment.getRequiredProperty("local.server.port"));
		client.setBearerToken(dev.patchbay.support.ApiClient.TEST_ADMIN_KEY);
		ModelsApi models = new ModelsApi(client);
		Artifact base = models.uploadModel(new ModelMetadata().name("contract-base").family("smallcnn"),
				List.of(fixture("digits/base_v1.safetensors")), null, null, null, null);
		Artifact finetuned = models.uploadModel(new ModelMetadata().name("contract-finetuned").family("smallcnn"),
				List.of(fixture("digits/finetuned_flip_v1.safetensors")), null, null, null, null);
		assertThat(models.getModel(base.getId().toString()).getName()).isEqualTo("contract-base");
		assertThat(models.getModel("contract-base@1").getId()).isEqualTo(base.getId());

		Artifact diff = new PatchesApi(client).createDiffPatch(new DiffRequest().name("contract-diff")
			.baseModelId(base.getId().toString())
			.finetunedModelId("contract-finetuned@latest"));
		assertThat(diff.getKind()).isEqualTo(Artifact.KindEnum.DIFF);
		assertThat(diff.getBaseModelId()).isEqualTo(base.getId());

		CompositionsApi compositions = new CompositionsApi(client);
		// The base by reference: the composition records the id it resolved to.
		Composition created = compositions.createComposition(new CompositionRequest().baseModelId("contract-base")
			.addTermsItem(
					new CompositionRequestTermsInner().patchId(diff.getId().toString()).weight(new BigDecimal("0.5"))));
		Composition read = awaitFinished(compositions, created.getId(), Duration.ofSeconds(30));
		assertThat(read.getStatus()).as(String.valueOf(read.getError())).isEqualTo(Composition.StatusEnum.READY);
		assertThat(read.getBaseModelId()).isEqualTo(base.getId());
		assertThat(read.getTerms()).singleElement().satisfies((term) -> {
			assertThat(term.getPatchId()).isEqualTo(diff.getId());
			assertThat(term.getWeight()).isEqualByComparingTo("0.5");
		});
		assertThat(read.getRecipeDigest()).isEqualTo(created.getRecipeDigest()).isNotBlank();
		assertThat(read.getFinishedAt()).isNotNull();
	}

	private static Composition awaitFinished(CompositionsApi compositions, UUID id, Duration timeout) {
		return await("composition " + id + " finished").atMost(timeout)
			.pollInterval(Duration.ofMillis(50))
			.until(() -> compositions.getComposition(id),
					(composition) -> composition.getStatus() != Composition.StatusEnum.PENDING
							&& composition.getStatus() != Composition.StatusEnum.RUNNING);
	}

	private static File fixture(String path) {
		return Fixtures.path(path).toFile();
	}

}
