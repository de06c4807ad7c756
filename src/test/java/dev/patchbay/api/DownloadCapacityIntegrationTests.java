package dev.patchbay.api;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.env.Environment;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Stalled readers against a server with only four request threads and a long idle
 * timeout: downloads must hold neither request threads nor a small shared pool.
 */
@IntegrationTest
@TestPropertySource(properties = { "server.tomcat.threads.max=4", "server.tomcat.threads.min-spare=1",
		"patchbay.api.download-idle-timeout=60s" })
class DownloadCapacityIntegrationTests {

	private static final int SIZE = 24 << 20;

	@Autowired
	ApiClient api;

	@Autowired
	Environment environment;

	@Test
	void twelveStalledReadersDoNotBlockARangeDownload(@TempDir Path dir) throws IOException {
		byte[] data = new byte[SIZE];
		new Random(12).nextBytes(data);
		byte[] file = Fixtures
			.raw("{\"w\":{\"dtype\":\"U8\",\"shape\":[" + SIZE + "],\"data_offsets\":[0," + SIZE + "]}}", data);
		JsonNode single = this.api.uploadStreaming("/api/v1/models", Map.of("name", "stalled"), "weights",
				Files.write(dir.resolve("stalled.safetensors"), file));
		String half = "{\"w\":{\"dtype\":\"U8\",\"shape\":[" + SIZE / 2 + "],\"data_offsets\":[0," + SIZE / 2 + "]}}";
		String other = half.replace("\"w\"", "\"v\"");
		String index = "{\"metadata\":{},\"weight_map\":{\"w\":\"m-1.safetensors\",\"v\":\"m-2.safetensors\"}}";
		Response sharded = this.api.postMultipart("/api/v1/models",
				multipart(Map.of("name", "stalled-sharded"))
					.bytes("weights", "m-1.safetensors", Fixtures.raw(half, Arrays.copyOf(data, SIZE / 2)))
					.bytes("weights", "m-2.safetensors", Fixtures.raw(other, Arrays.copyOf(data, SIZE / 2)))
					.bytes("index", "m.safetensors.index.json", index.getBytes()));
		assertThat(sharded.code()).isEqualTo(201);
		List<String> paths = List.of("/api/v1/models/" + single.get("id").asString() + "/weights",
				"/api/v1/models/" + sharded.json().get("id").asString() + "/weights");
		List<RawDownload> stalled = new ArrayList<>();
		try {
			for (int i = 0; i < 12; i++) {
				RawDownload download = RawDownload.open(port(), paths.get(i % 2));
				assertThat(download.status).isEqualTo(200);
				stalled.add(download);
			}
			for (String path : paths) {
				try (RawDownload range = RawDownload.open(port(), path, "Range", "bytes=0-99")) {
					assertThat(range.status).isEqualTo(206);
					assertThat(range.contentLength).isEqualTo(100);
					assertThat(range.in.readNBytes(100)).hasSize(100);
				}
			}
			assertThat(this.api.get("/actuator/health/liveness").code()).isEqualTo(200);
		}
		finally {
			for (RawDownload download : stalled) {
				download.close();
			}
		}
	}

	private int port() {
		return Integer.parseInt(this.environment.getRequiredProperty("local.server.port"));
	}

}
