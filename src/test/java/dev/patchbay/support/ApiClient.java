package dev.patchbay.support;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.core.env.Environment;
import org.springframework.core.io.ByteArrayResource;
import org.springframework.http.HttpEntity;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.MediaType;
import org.springframework.util.LinkedMultiValueMap;
import org.springframework.util.MultiValueMap;
import org.springframework.web.client.RestClient;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Drives the real server over HTTP. Never throws on error statuses: tests assert on them.
 */
public class ApiClient {

	/** The admin key the test contexts are configured with. */
	public static final String TEST_ADMIN_KEY = "test-admin-key-0123456789";

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static final HttpClient HTTP = HttpClient.newHttpClient();

	private final Environment environment;

	private final String key;

	private RestClient client;

	/**
	 * A client presenting the configured admin key, so that every endpoint is open to it.
	 */
	@Autowired
	public ApiClient(Environment environment) {
		this(environment, environment.getProperty("patchbay.security.admin-key"));
	}

	private ApiClient(Environment environment, String key) {
		this.environment = environment;
		this.key = key;
	}

	/** A client of the same server presenting another key, or none when null. */
	public ApiClient withKey(String key) {
		return new ApiClient(this.environment, key);
	}

	/** Built on first use: the server's port is known only once it has started. */
	private RestClient client() {
		if (this.client == null) {
			this.client = RestClient.builder()
				.baseUrl(baseUrl())
				.defaultHeaders((headers) -> authorize(headers::set))
				.build();
		}
		return this.client;
	}

	private void authorize(BiConsumer<String, String> header) {
		if (this.key != null) {
			header.accept(HttpHeaders.AUTHORIZATION, "Bearer " + this.key);
		}
	}

	public Response send(HttpMethod method, String path) {
		return exchange(client().method(method).uri(path));
	}

	public Response get(String path, String... headers) {
		return exchange(client().get().uri(path).headers((h) -> addHeaders(h, headers)));
	}

	public Response delete(String path) {
		return exchange(client().delete().uri(path));
	}

	public Response postJson(String path, Object body) {
		return exchange(client().post().uri(path).contentType(MediaType.APPLICATION_JSON).body(body));
	}

	public Response putJson(String path, Object body) {
		return exchange(client().put().uri(path).contentType(MediaType.APPLICATION_JSON).body(body));
	}

	public Response patchJson(String path, Object body) {
		return exchange(client().patch().uri(path).contentType(MediaType.APPLICATION_JSON).body(body));
	}

	/** Posts bytes as they are, under any content type, well-formed or not. */
	public Response postRaw(String path, String contentType, byte[] body) {
		return exchange(client().post().uri(path).header(HttpHeaders.CONTENT_TYPE, contentType).body(body));
	}

	public Response putMultipart(String path, Multipart body) {
		return exchange(client().put().uri(path).contentType(MediaType.MULTIPART_FORM_DATA).body(body.parts));
	}

	public Response postMultipart(String path, Multipart body) {
		return exchange(client().post().uri(path).contentType(MediaType.MULTIPART_FORM_DATA).body(body.parts));
	}

	/** Uploads an artifact, expects 201, and returns its id. */
	public String upload(String path, Multipart body) {
		Response response = postMultipart(path, body);
		assertThat(response.code()).as(response.json().toString()).isEqualTo(201);
		return response.json().get("id").asString();
	}

	/**
	 * Uploads a PEFT adapter from a fixture directory as a LoRA patch and returns its id.
	 */
	public String uploadLora(String name, String fixtureDir) {
		return upload("/api/v1/patches",
				multipart(Map.of("kind", "lora", "name", name))
					.file("adapter_config", Fixtures.path(fixtureDir + "/adapter_config.json"))
					.file("adapter_model", Fixtures.path(fixtureDir + "/adapter_model.safetensors")));
	}

	/** Creates or reuses a composition and returns its id. */
	public String compose(Map<String, ?> recipe) {
		Response response = postJson("/api/v1/compositions", recipe);
		assertThat(response.code()).as(response.json().toString()).isIn(200, 201);
		return response.json().get("id").asString();
	}

	/** Waits for a composition to finish and expects it ready. */
	public JsonNode awaitReady(String id, Duration timeout) {
		JsonNode composition = await("composition " + id + " finished").atMost(timeout)
			.pollInterval(Duration.ofMillis(50))
			.until(() -> get("/api/v1/compositions/" + id).json(),
					(current) -> !current.get("status").asString().matches("pending|running"));
		assertThat(composition.get("status").asString()).as(composition.toString()).isEqualTo("ready");
		return composition;
	}

	/**
	 * Uploads a large file as one multipart part without holding it in memory, and
	 * returns the response body as JSON.
	 */
	public JsonNode uploadStreaming(String path, Map<String, ?> metadata, String part, Path file) {
		String boundary = "patchbay-" + UUID.randomUUID();
		String head = "--" + boundary + "\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n"
				+ JSON.writeValueAsString(metadata) + "\r\n--" + boundary
				+ "\r\nContent-Disposition: form-data; name=\"" + part + "\"; filename=\"" + file.getFileName()
				+ "\"\r\nContent-Type: application/octet-stream\r\n\r\n";
		String tail = "\r\n--" + boundary + "--\r\n";
		try {
			HttpRequest.Builder builder = HttpRequest.newBuilder(URI.create(baseUrl() + path));
			authorize(builder::header);
			HttpRequest request = builder.header("Content-Type", "multipart/form-data; boundary=" + boundary)
				.POST(BodyPublishers.concat(BodyPublishers.ofString(head), BodyPublishers.ofFile(file),
						BodyPublishers.ofString(tail)))
				.build();
			return JSON.readTree(HTTP.send(request, BodyHandlers.ofByteArray()).body());
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
	}

	/** Streams a GET response body to a consumer without holding it in memory. */
	public long download(String path, Consumer<InputStream> body) {
		try {
			HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl() + path));
			authorize(request::header);
			HttpResponse<InputStream> response = HTTP.send(request.build(), BodyHandlers.ofInputStream());
			try (InputStream in = response.body()) {
				body.accept(in);
			}
			return response.headers().firstValueAsLong("Content-Length").orElse(-1);
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
			throw new IllegalStateException(ex);
		}
	}

	private String baseUrl() {
		return "http://localhost:" + this.environment.getRequiredProperty("local.server.port");
	}

	private static void addHeaders(HttpHeaders target, String... headers) {
		for (int i = 0; i < headers.length; i += 2) {
			target.add(headers[i], headers[i + 1]);
		}
	}

	private static Response exchange(RestClient.RequestHeadersSpec<?> request) {
		return request.exchange(
				(req, res) -> new Response(res.getStatusCode(), res.getHeaders(), res.getBody().readAllBytes()), true);
	}

	/** A multipart body built part by part. */
	public static final class Multipart {

		private final MultiValueMap<String, Object> parts = new LinkedMultiValueMap<>();

		public Multipart json(String name, Object value) {
			this.parts.add(name, JSON.writeValueAsString(value));
			return this;
		}

		public Multipart file(String name, Path file) {
			try {
				return bytes(name, file.getFileName().toString(), Files.readAllBytes(file));
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
		}

		public Multipart bytes(String name, String filename, byte[] content) {
			HttpHeaders headers = new HttpHeaders();
			headers.setContentType(MediaType.APPLICATION_OCTET_STREAM);
			this.parts.add(name, new HttpEntity<>(new ByteArrayResource(content) {
				@Override
				public String getFilename() {
					return filename;
				}
			}, headers));
			return this;
		}

	}

	public static Multipart multipart(Map<String, ?> metadata) {
		return new Multipart().json("metadata", metadata);
	}

	/**
	 * A response, whatever its status.
	 */
	public record Response(HttpStatusCode status, HttpHeaders headers, byte[] body) {

		public JsonNode json() {
			return JSON.readTree(this.body);
		}

		public int code() {
			return this.status.value();
		}

		public String contentType() {
			return String.valueOf(this.headers.getContentType());
		}

		public List<String> header(String name) {
			return this.headers.getOrEmpty(name);
		}

	}

}
