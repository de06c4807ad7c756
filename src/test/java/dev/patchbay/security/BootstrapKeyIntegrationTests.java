package dev.patchbay.security;

import java.nio.file.Path;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.util.FileSystemUtils;

import dev.patchbay.PatchbayApplication;
import dev.patchbay.support.ApiClient;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The local default: embedded PostgreSQL and no admin key configured.
 */
@ExtendWith(OutputCaptureExtension.class)
class BootstrapKeyIntegrationTests {

	private static final Pattern PRINTED_KEY = Pattern.compile("shown only this once: (pb_[A-Za-z0-9_-]+)");

	private final Path dataDir = Path.of("target/test-data/bootstrap-" + UUID.randomUUID());

	@AfterEach
	void deleteData() {
		FileSystemUtils.deleteRecursively(this.dataDir.toFile());
	}

	@Test
	void aFirstStartWithoutAnAdminKeyPrintsAGeneratedOneOnceAndItAdministersKeys(CapturedOutput output) {
		String key;
		try (ConfigurableApplicationContext first = start()) {
			Matcher printed = PRINTED_KEY.matcher(output.getOut());
			assertThat(printed.find()).as("the generated key is printed").isTrue();
			key = printed.group(1);
			ApiClient admin = new ApiClient(first.getEnvironment()).withKey(key);
			assertThat(admin.get("/api/v1/keys").code()).isEqualTo(200);
			assertThat(admin.withKey(null).get("/api/v1/keys").code()).isEqualTo(401);
		}
		int printedBefore = output.getOut().length();
		try (ConfigurableApplicationContext second = start()) {
			assertThat(PRINTED_KEY.matcher(output.getOut().substring(printedBefore)).find())
				.as("no second key on restart")
				.isFalse();
			assertThat(new ApiClient(second.getEnvironment()).withKey(key).get("/api/v1/keys").code()).isEqualTo(200);
		}
	}

	private ConfigurableApplicationContext start() {
		return new SpringApplicationBuilder(PatchbayApplication.class).run("--server.port=0",
				"--patchbay.data-dir=" + this.dataDir);
	}

}
