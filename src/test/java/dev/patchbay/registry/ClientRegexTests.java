package dev.patchbay.registry;

import java.time.Duration;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

class ClientRegexTests {

	@Test
	void catastrophicBacktrackingPatternsRunInLinearTime() {
		String name = "a".repeat(100_000) + "!";
		assertTimeoutPreemptively(Duration.ofSeconds(5), () -> {
			assertThat(ClientRegex.compile("((a+)+)+$").matcher(name).find()).isFalse();
			assertThat(ClientRegex.compile("(a|aa)+$").matcher(name).find()).isFalse();
		});
	}

	@Test
	void patternsAsPeftAndUsersWriteThemCompile() {
		assertThat(ClientRegex.compile(".*\\.(q_proj|v_proj)$").matcher("model.layers.0.self_attn.q_proj").matches())
			.isTrue();
		assertThat(ClientRegex.compile("layers\\.\\d{1,3}\\.mlp").matcher("model.layers.12.mlp.up").find()).isTrue();
	}

	@ParameterizedTest
	@ValueSource(strings = { "((a{1000}){1000}){1000}", "(a{999}){999}", "a{2000}", "a{1,99999999999999}" })
	void expandedSizeIsBoundedBeforeCompiling(String regex) {
		assertTimeoutPreemptively(Duration.ofSeconds(1),
				() -> assertThatIllegalArgumentException().isThrownBy(() -> ClientRegex.compile(regex))
					.withMessageContaining("1000"));
	}

	@Test
	void invalidAndOverlongPatternsSayWhy() {
		assertThatIllegalArgumentException().isThrownBy(() -> ClientRegex.compile("fc("))
			.withMessageStartingWith("is not a valid regex");
		assertThatIllegalArgumentException().isThrownBy(() -> ClientRegex.compile("a".repeat(1001)))
			.withMessageContaining("at most 1000 characters");
		assertThatIllegalArgumentException().isThrownBy(() -> ClientRegex.compile("(?=lookahead)"))
			.withMessageStartingWith("is not a valid regex");
	}

}
