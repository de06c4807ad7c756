package dev.patchbay.api;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvFileSource;

import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.shared.ProblemKind;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The catalogue names every problem kind once and keeps the names clients already match
 * on: type URIs and titles are API, not implementation.
 */
class ProblemCatalogueTests {

	private final ProblemCatalogue catalogue = new ProblemCatalogue();

	@Test
	void namesEveryKindWithATypeTitleAndErrorStatus() {
		for (ProblemKind kind : ProblemKind.values()) {
			ProblemCatalogue.Entry entry = ProblemCatalogue.entry(kind);
			assertThat(entry).as(kind.name()).isNotNull();
			assertThat(entry.type().toString()).as(kind.name()).matches("https://patchbay\\.dev/problems/[a-z0-9-]+");
			assertThat(entry.title()).as(kind.name()).isNotBlank();
			assertThat(entry.status().isError()).as(kind.name()).isTrue();
		}
	}

	@Test
	void givesNoTwoKindsTheSameType() {
		List<URI> types = Arrays.stream(ProblemKind.values())
			.map((kind) -> ProblemCatalogue.entry(kind).type())
			.toList();
		assertThat(types).doesNotHaveDuplicates();
	}

	@Test
	void listsEveryKindInTheContract() {
		List<String> contract = contractKinds();
		assertThat(Arrays.stream(ProblemKind.values()).map(ProblemKind::name))
			.containsExactlyInAnyOrderElementsOf(contract);
	}

	@ParameterizedTest(name = "{0}")
	@CsvFileSource(resources = "/problem-kinds.csv")
	void keepsTheTypeTitleAndStatusClientsKnow(ProblemKind kind, int status, String slug, String title) {
		ProblemCatalogue.Entry entry = ProblemCatalogue.entry(kind);
		assertThat(entry.type()).hasToString("https://patchbay.dev/problems/" + slug);
		assertThat(entry.title()).isEqualTo(title);
		assertThat(entry.status().value()).isEqualTo(status);
	}

	@Test
	void storesADomainProblemAsTheApiAnswersIt() {
		InvalidInputException ex = new InvalidInputException(ProblemKind.INVALID_SAFETENSORS,
				"lora.safetensors: tensor 'w' has 3 bytes", Map.of("file", "lora.safetensors", "tensor", "w"));
		assertThat(this.catalogue.of(ex, ProblemKind.COMPOSITION_FAILED)).isEqualTo(Map.of("type",
				"https://patchbay.dev/problems/invalid-safetensors", "title", "Invalid safetensors file", "detail",
				"lora.safetensors: tensor 'w' has 3 bytes", "file", "lora.safetensors", "tensor", "w"));
	}

	@Test
	void storesAnyOtherFailureAsTheWorksOwn() {
		Exception ex = new IllegalStateException("the lease was lost");
		assertThat(this.catalogue.of(ex, ProblemKind.EVALUATION_FAILED))
			.isEqualTo(Map.of("type", "https://patchbay.dev/problems/evaluation-failed", "title", "Evaluation failed",
					"detail", "the evaluation failed: the lease was lost"));
	}

	private static List<String> contractKinds() {
		try (BufferedReader lines = new BufferedReader(new InputStreamReader(
				ProblemCatalogueTests.class.getResourceAsStream("/problem-kinds.csv"), StandardCharsets.UTF_8))) {
			return lines.lines().filter((line) -> !line.startsWith("#")).map((line) -> line.split(",")[0]).toList();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

}
