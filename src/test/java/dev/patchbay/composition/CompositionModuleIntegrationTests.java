package dev.patchbay.composition;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.ApplicationContext;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Import;
import org.springframework.core.io.FileSystemResource;
import org.springframework.modulith.test.ApplicationModuleTest;
import org.springframework.modulith.test.ApplicationModuleTest.BootstrapMode;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.registry.ArtifactMetadata;
import dev.patchbay.registry.Ingest;
import dev.patchbay.registry.PatchKind;
import dev.patchbay.registry.Upload;
import dev.patchbay.shared.ProblemBodies;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.TestDatabase;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The composition module started with the modules it declares and nothing else (no HTTP
 * layer, no inference), on the real PostgreSQL: a recipe goes in through
 * {@link Compositions} and comes out as PEFT's merged weights.
 */
@ApplicationModuleTest(mode = BootstrapMode.DIRECT_DEPENDENCIES)
@TestPropertySource(properties = "patchbay.data-dir=target/test-data/${random.uuid}")
@Import(TestDatabase.class)
class CompositionModuleIntegrationTests {

	/** The modules that composition's package-info allows, and itself. */
	private static final Set<String> STARTED = Set.of("composition", "shared", "storage", "engine", "registry",
			"events");

	@Autowired
	Compositions compositions;

	@Autowired
	Ingest ingest;

	@Autowired
	ApplicationContext context;

	@Test
	void startsNoBeanOfAModuleItDoesNotDeclare() {
		List<String> modules = Arrays.stream(this.context.getBeanDefinitionNames())
			.map(this.context::getType)
			.filter((type) -> type != null && type.getPackageName().startsWith("dev.patchbay."))
			.map((type) -> type.getPackageName().substring("dev.patchbay.".length()).split("\\.")[0])
			// The test's own database choice, not a module.
			.filter((module) -> !module.equals("support"))
			.distinct()
			.toList();
		assertThat(modules).contains("composition", "registry").isSubsetOf(STARTED);
	}

	@Test
	void composesALoraOntoItsBaseAsPeftMergesIt() throws IOException {
		UUID base = this.ingest
			.registerModel(metadata(null, "module-base"), List.of(upload("weights", "lora_llama/base.safetensors")),
					null, null)
			.id();
		UUID patch = this.ingest
			.registerPatch(metadata(PatchKind.LORA, "module-lora"), List.of(),
					upload("adapter_config", "lora_llama/adapter/adapter_config.json"),
					upload("adapter_model", "lora_llama/adapter/adapter_model.safetensors"))
			.id();
		Compositions.Created created = this.compositions.create(
				new RecipeDraft.Peft(base.toString(), List.of(new RecipeDraft.Term(patch.toString(), 1.0, null, null)),
						null, null, null, null, RecipeDraft.Output.DEFAULT),
				false, false);
		assertThat(created.created()).isTrue();
		Map<String, float[]> merged;
		try (Compositions.Result result = this.compositions.awaitResult(created.composition().id(),
				Duration.ofSeconds(60))) {
			merged = Fixtures.floats(Files.readAllBytes(result.path()));
		}
		Map<String, float[]> expected = Fixtures.floats(Fixtures.path("lora_llama/expected_merged.safetensors"));
		assertThat(merged.keySet()).isEqualTo(expected.keySet());
		expected
			.forEach((name, values) -> assertThat(merged.get(name)).as(name).containsExactly(values, within(1e-5f)));
		assertThat(this.compositions.get(created.composition().id()).status()).isEqualTo(CompositionStatus.READY);
	}

	/**
	 * The problem catalogue lives in api, above this module: composition only requires
	 * something that writes the problems it stores, given here as the plainest one.
	 */
	@TestConfiguration
	static class StoredProblems {

		@Bean
		ProblemBodies problemBodies() {
			return (ex, failure) -> Map.of("kind", failure.name(), "detail", String.valueOf(ex.getMessage()));
		}

	}

	private static ArtifactMetadata metadata(PatchKind kind, String name) {
		return new ArtifactMetadata(kind, name, null, null, null, null, null);
	}

	private static Upload upload(String part, String fixture) {
		Path path = Fixtures.path(fixture);
		return new Upload(part, path.getFileName().toString(), new FileSystemResource(path));
	}

}
