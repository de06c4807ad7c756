package dev.patchbay.api;

import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.env.Environment;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * Inference bodies far beyond the default 32 MB cap, sent at the same time into a 768 MB
 * test heap: each gets a 413 naming the limit, and the service keeps serving.
 */
@IntegrationTest
class InferenceBodyLimitsIntegrationTests {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final long BODY_BYTES = 160L << 20;

	private static final Map<String, Object> SIGNATURE = Map.of("inputs",
			List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(-1, 1, 8, 8))), "outputs",
			List.of(Map.of("name", "logits", "datatype", "FP32", "shape", List.of(-1, 10))));

	@Autowired
	ApiClient api;

	@Autowired
	Environment environment;

	@Test
	void concurrentBodiesBeyondTheCapGet413AndTheServiceServesOn() throws Exception {
		String model = this.api.upload("/api/v1/models",
				multipart(Map.of("name", "limits-digits", "signature", SIGNATURE))
					.file("weights", Fixtures.path("digits/base_v2.safetensors"))
					.file("graph", Fixtures.path("digits/digits_cnn.pt")));
		HttpClient client = HttpClient.newHttpClient();
		URI uri = URI.create("http://localhost:" + this.environment.getRequiredProperty("local.server.port")
				+ "/v2/models/" + model + "/infer");
		List<CompletableFuture<HttpResponse<byte[]>>> responses = new ArrayList<>();
		for (int i = 0; i < 3; i++) {
			// Streamed without a length, so the server must count what it reads; the data
			// comes before the shape, so that nothing can be sized up front.
			HttpRequest request = request(uri).POST(BodyPublishers.ofInputStream(() -> new GeneratedBody(BODY_BYTES)))
				.build();
			responses.add(client.sendAsync(request, BodyHandlers.ofByteArray()));
		}
		HttpRequest declared = request(uri)
			.POST(BodyPublishers.fromPublisher(BodyPublishers.ofInputStream(() -> new GeneratedBody(BODY_BYTES)),
					BODY_BYTES))
			.build();
		responses.add(client.sendAsync(declared, BodyHandlers.ofByteArray()));
		for (CompletableFuture<HttpResponse<byte[]>> future : responses) {
			HttpResponse<byte[]> response = future.get(120, TimeUnit.SECONDS);
			assertThat(response.statusCode()).as(new String(response.body())).isEqualTo(413);
			JsonNode error = JSON.readTree(response.body());
			assertThat(error.get("error").asString()).startsWith("body: exceeds the limit of 33554432 bytes")
				.contains("patchbay.inference.max-request-size");
		}
		float[] images = Fixtures.floats(Fixtures.path("digits/testset.safetensors")).get("images_clean");
		float[] one = new float[64];
		System.arraycopy(images, 0, one, 0, 64);
		Response small = this.api.postJson("/v2/models/" + model + "/infer", Map.of("inputs",
				List.of(Map.of("name", "images", "datatype", "FP32", "shape", List.of(1, 1, 8, 8), "data", one))));
		assertThat(small.code()).as(new String(small.body())).isEqualTo(200);
		assertThat(small.json().get("outputs").get(0).get("data")).hasSize(10);
	}

	private HttpRequest.Builder request(URI uri) {
		return HttpRequest.newBuilder(uri)
			.header("Content-Type", "application/json")
			.header("Authorization", "Bearer " + ApiClient.TEST_ADMIN_KEY);
	}

	/**
	 * {@code {"inputs":[{"name":"images","data":[0.123456789,...` of a given length,
	 * generated as it is read.
	 */
	private static final class GeneratedBody extends InputStream {

		private static final byte[] HEAD = "{\"inputs\":[{\"name\":\"images\",\"datatype\":\"FP32\",\"data\":["
			.getBytes(StandardCharsets.US_ASCII);

		private static final byte[] ELEMENT = "0.123456789,".getBytes(StandardCharsets.US_ASCII);

		private final long length;

		private long position;

		GeneratedBody(long length) {
			this.length = length;
		}

		@Override
		public int read() {
			if (this.position >= this.length) {
				return -1;
			}
			long at = this.position++;
			if (at < HEAD.length) {
				return HEAD[(int) at];
			}
			return ELEMENT[(int) ((at - HEAD.length) % ELEMENT.length)];
		}

		@Override
		public int read(byte[] buffer, int offset, int count) {
			if (this.position >= this.length) {
				return -1;
			}
			int n = (int) Math.min(count, this.length - this.position);
			for (int i = 0; i < n; i++) {
				buffer[offset + i] = (byte) read();
			}
			return n;
		}

	}

}
