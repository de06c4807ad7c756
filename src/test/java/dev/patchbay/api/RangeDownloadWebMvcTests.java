package dev.patchbay.api;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import jakarta.servlet.AsyncContext;
import jakarta.servlet.Filter;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletRequestWrapper;
import jakarta.servlet.http.HttpServletResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.web.servlet.FilterRegistrationBean;
import org.springframework.boot.webmvc.test.autoconfigure.WebMvcTest;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.ComponentScan;
import org.springframework.context.annotation.FilterType;
import org.springframework.context.annotation.Import;
import org.springframework.core.Ordered;
import org.springframework.mock.web.MockHttpServletResponse;
import org.springframework.test.web.servlet.MockMvc;
import org.springframework.test.web.servlet.MvcResult;
import org.springframework.test.web.servlet.request.MockHttpServletRequestBuilder;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

import dev.patchbay.storage.SegmentedFile;
import dev.patchbay.storage.StorageProperties;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.get;
import static org.springframework.test.web.servlet.request.MockMvcRequestBuilders.head;

/**
 * Range, conditional and HEAD requests against the real {@link Downloads}, served by a
 * test controller from a file of two segments (a header and its data, as a model download
 * is assembled): only the MVC layer starts, no database or blob store.
 */
@WebMvcTest(controllers = RangeDownloadWebMvcTests.FileController.class,
		// The key filter needs the key store, which these tests do not exercise.
		excludeFilters = @ComponentScan.Filter(type = FilterType.ASSIGNABLE_TYPE, classes = ApiKeyFilter.class))
@Import({ RangeDownloadWebMvcTests.FileController.class, Downloads.class, RangeDownloadWebMvcTests.SliceBeans.class })
class RangeDownloadWebMvcTests {

	private static final int SIZE = 1000;

	/** Where the first segment ends, so that a range can cross into the second. */
	private static final int HEADER = 500;

	private static final byte[] CONTENT = content();

	private static final String ETAG = "0123abcd";

	@Autowired
	MockMvc mvc;

	@Autowired
	FileController files;

	@Test
	void requestWithoutRangeGetsTheWholeFileWithItsValidatorsAndTheRangesAccepted() throws Exception {
		MockHttpServletResponse response = download(get("/file"));
		assertThat(response.getStatus()).isEqualTo(200);
		assertThat(response.getContentAsByteArray()).isEqualTo(CONTENT);
		assertThat(response.getHeader("Content-Length")).isEqualTo("1000");
		assertThat(response.getHeader("ETag")).isEqualTo("\"0123abcd\"");
		assertThat(response.getHeader("Accept-Ranges")).isEqualTo("bytes");
		assertThat(response.getHeader("Content-Range")).isNull();
		assertThat(response.getHeader("Content-Disposition")).isEqualTo("attachment; filename=\"weights.safetensors\"");
	}

	@Test
	void rangeRequestReturnsExactlyThoseBytes() throws Exception {
		MockHttpServletResponse response = download(get("/file").header("Range", "bytes=100-199"));
		assertThat(response.getStatus()).isEqualTo(206);
		assertThat(response.getHeader("Content-Range")).isEqualTo("bytes 100-199/1000");
		assertThat(response.getHeader("Content-Length")).isEqualTo("100");
		assertThat(response.getContentAsByteArray()).isEqualTo(Arrays.copyOfRange(CONTENT, 100, 200));
	}

	@ParameterizedTest(name = "{0}")
	@CsvSource({ "bytes=490-509, 490, 510", "bytes=900-, 900, 1000", "bytes=-100, 900, 1000", "bytes=0-0, 0, 1",
			"bytes=990-5000, 990, 1000", "bytes=-5000, 0, 1000", "'Bytes= 10 - 19', 10, 20" })
	void everyFormOfASingleRangeIsServedClampedToTheFile(String range, int from, int to) throws Exception {
		MockHttpServletResponse response = download(get("/file").header("Range", range));
		assertThat(response.getStatus()).isEqualTo(206);
		assertThat(response.getHeader("Content-Range")).isEqualTo("bytes " + from + "-" + (to - 1) + "/1000");
		assertThat(response.getHeader("Content-Length")).isEqualTo(Integer.toString(to - from));
		assertThat(response.getContentAsByteArray()).isEqualTo(Arrays.copyOfRange(CONTENT, from, to));
	}

	@Test
	void lastPositionBeyondSixtyFourBitsMeansToTheEnd() throws Exception {
		MockHttpServletResponse response = download(get("/file").header("Range", "bytes=100-99999999999999999999999"));
		assertThat(response.getStatus()).isEqualTo(206);
		assertThat(response.getHeader("Content-Range")).isEqualTo("bytes 100-999/1000");
		assertThat(response.getContentAsByteArray()).isEqualTo(Arrays.copyOfRange(CONTENT, 100, SIZE));
		MockHttpServletResponse suffix = download(get("/file").header("Range", "bytes=-99999999999999999999"));
		assertThat(suffix.getStatus()).isEqualTo(206);
		assertThat(suffix.getContentAsByteArray()).isEqualTo(CONTENT);
	}

	@ParameterizedTest(name = "{0}")
	@ValueSource(strings = { "bytes=1000-", "bytes=999999-", "bytes=99999999999999999999-", "bytes=-0" })
	void unsatisfiableRangeIs416NamingTheSize(String range) throws Exception {
		MockHttpServletResponse response = download(get("/file").header("Range", range));
		assertThat(response.getStatus()).isEqualTo(416);
		assertThat(response.getHeader("Content-Range")).isEqualTo("bytes */1000");
		assertThat(response.getContentAsByteArray()).isEmpty();
	}

	@ParameterizedTest(name = "{0}")
	@ValueSource(strings = { "bytes=0-9, 20-29", "bytes=0-9,20-", "items=0-9", "bytes=9-1", "bytes=abc", "bytes=-" })
	void rangesThisServerDoesNotServeGetTheWholeFile(String range) throws Exception {
		MockHttpServletResponse response = download(get("/file").header("Range", range));
		assertThat(response.getStatus()).isEqualTo(200);
		assertThat(response.getHeader("Content-Range")).isNull();
		assertThat(response.getContentAsByteArray()).isEqualTo(CONTENT);
	}

	@Test
	void matchingIfNoneMatchIs304WithoutBodyEvenWithARange() throws Exception {
		MockHttpServletResponse response = download(
				get("/file").header("If-None-Match", "\"0123abcd\"").header("Range", "bytes=0-9"));
		assertThat(response.getStatus()).isEqualTo(304);
		assertThat(response.getHeader("ETag")).isEqualTo("\"0123abcd\"");
		assertThat(response.getHeader("Content-Range")).isNull();
		assertThat(response.getContentAsByteArray()).isEmpty();
	}

	@Test
	void otherIfNoneMatchGetsTheFile() throws Exception {
		MockHttpServletResponse response = download(get("/file").header("If-None-Match", "\"ffff\""));
		assertThat(response.getStatus()).isEqualTo(200);
		assertThat(response.getContentAsByteArray()).isEqualTo(CONTENT);
	}

	@Test
	void ifRangeNamingTheCurrentFileGetsTheRange() throws Exception {
		MockHttpServletResponse response = download(
				get("/file").header("Range", "bytes=100-199").header("If-Range", "\"0123abcd\""));
		assertThat(response.getStatus()).isEqualTo(206);
		assertThat(response.getHeader("Content-Range")).isEqualTo("bytes 100-199/1000");
		assertThat(response.getContentAsByteArray()).isEqualTo(Arrays.copyOfRange(CONTENT, 100, 200));
	}

	/**
	 * A resume whose piece would come from another version gets the whole file: a stale
	 * tag, a weak one (never enough for If-Range) and a date (no Last-Modified is sent
	 * for it to equal).
	 */
	@ParameterizedTest(name = "{0}")
	@ValueSource(strings = { "\"ffff\"", "W/\"0123abcd\"", "Wed, 02 Dec 2026 16:00:00 GMT" })
	void ifRangeNotNamingTheCurrentFileGetsTheWholeFile(String ifRange) throws Exception {
		MockHttpServletResponse response = download(
				get("/file").header("Range", "bytes=100-199").header("If-Range", ifRange));
		assertThat(response.getStatus()).isEqualTo(200);
		assertThat(response.getHeader("Content-Range")).isNull();
		assertThat(response.getHeader("Content-Length")).isEqualTo("1000");
		assertThat(response.getContentAsByteArray()).isEqualTo(CONTENT);
	}

	@ParameterizedTest(name = "{0}")
	@ValueSource(strings = { "\"ffff\", \"0123abcd\"", "W/\"0123abcd\"", "\"ffff\",W/\"0123abcd\"", "*" })
	void ifNoneMatchNamingTheFileAmongOthersWeaklyOrByWildcardIs304(String ifNoneMatch) throws Exception {
		MockHttpServletResponse response = download(get("/file").header("If-None-Match", ifNoneMatch));
		assertThat(response.getStatus()).isEqualTo(304);
		assertThat(response.getHeader("ETag")).isEqualTo("\"0123abcd\"");
		assertThat(response.getContentAsByteArray()).isEmpty();
	}

	@Test
	void ifNoneMatchSentOnSeveralLinesIsOneList() throws Exception {
		MockHttpServletResponse response = download(get("/file").header("If-None-Match", "\"ffff\"", "\"0123abcd\""));
		assertThat(response.getStatus()).isEqualTo(304);
	}

	@ParameterizedTest(name = "{0}")
	@ValueSource(strings = { "\"ffff\", W/\"eeee\"", "\"0123abcd-gzip\", \"0123abc\"", "0123abcd" })
	void ifNoneMatchListWithoutTheTagGetsTheFile(String ifNoneMatch) throws Exception {
		MockHttpServletResponse response = download(get("/file").header("If-None-Match", ifNoneMatch));
		assertThat(response.getStatus()).isEqualTo(200);
		assertThat(response.getContentAsByteArray()).isEqualTo(CONTENT);
	}

	@ParameterizedTest(name = "{0}")
	@ValueSource(strings = { "\"0123abcd\"", "\"ffff\", \"0123abcd\"", "*" })
	void ifMatchNamingTheFileStronglyOrByWildcardGetsTheRange(String ifMatch) throws Exception {
		MockHttpServletResponse response = download(
				get("/file").header("If-Match", ifMatch).header("Range", "bytes=100-199"));
		assertThat(response.getStatus()).isEqualTo(206);
		assertThat(response.getContentAsByteArray()).isEqualTo(Arrays.copyOfRange(CONTENT, 100, 200));
	}

	@ParameterizedTest(name = "{0}")
	@ValueSource(strings = { "\"ffff\"", "W/\"0123abcd\"", "\"ffff\", \"eeee\"" })
	void ifMatchWithoutTheCurrentStrongTagIs412Problem(String ifMatch) throws Exception {
		MockHttpServletResponse response = download(get("/file").header("If-Match", ifMatch)
			// Evaluated before If-None-Match and Range, which would give a 304 or 206.
			.header("If-None-Match", "\"0123abcd\"")
			.header("Range", "bytes=100-199"));
		assertThat(response.getStatus()).isEqualTo(412);
		assertThat(response.getContentType()).isEqualTo("application/problem+json");
		assertThat(response.getContentAsString())
			.contains("\"type\":\"https://patchbay.dev/problems/precondition-failed\"")
			.contains("\"status\":412")
			.contains("\"title\":\"Precondition failed\"");
		assertThat(response.getHeader("Content-Range")).isNull();
	}

	@Test
	void headAnswersWhatTheRangedGetWouldWithoutABody() throws Exception {
		MockHttpServletResponse response = download(head("/file").header("Range", "bytes=100-199"));
		assertThat(response.getStatus()).isEqualTo(206);
		assertThat(response.getHeader("Content-Range")).isEqualTo("bytes 100-199/1000");
		assertThat(response.getHeader("Content-Length")).isEqualTo("100");
		assertThat(response.getContentAsByteArray()).isEmpty();
	}

	@Test
	void theSourceIsReleasedOnceWhateverTheAnswer() throws Exception {
		int before = this.files.released.get();
		assertThat(download(get("/file")).getStatus()).isEqualTo(200);
		assertThat(download(get("/file").header("Range", "bytes=0-9")).getStatus()).isEqualTo(206);
		assertThat(download(get("/file").header("Range", "bytes=1000-")).getStatus()).isEqualTo(416);
		assertThat(download(get("/file").header("If-None-Match", "\"0123abcd\"")).getStatus()).isEqualTo(304);
		assertThat(download(head("/file")).getStatus()).isEqualTo(200);
		assertThat(download(get("/file").header("If-Match", "\"ffff\"")).getStatus()).isEqualTo(412);
		// A copied body releases its source just after completing the response.
		await().atMost(Duration.ofSeconds(10))
			.untilAsserted(() -> assertThat(this.files.released.get() - before).isEqualTo(6));
	}

	/**
	 * Performs a request and waits for its body: Downloads copies it on a thread of its
	 * own after the handler returns, and completes the async request when done.
	 */
	private MockHttpServletResponse download(MockHttpServletRequestBuilder request) throws Exception {
		MvcResult result = this.mvc.perform(request).andReturn();
		await().pollInterval(Duration.ofMillis(5))
			.atMost(Duration.ofSeconds(10))
			.until(() -> !result.getRequest().isAsyncStarted());
		return result.getResponse();
	}

	private static byte[] content() {
		byte[] content = new byte[SIZE];
		new Random(16).nextBytes(content);
		return content;
	}

	/** Serves {@link #CONTENT} as downloads are served: through {@link Downloads}. */
	@RestController
	static class FileController {

		private final Downloads downloads;

		/** How often Downloads said the source is no longer needed (its pins may go). */
		final AtomicInteger released = new AtomicInteger();

		FileController(Downloads downloads) {
			this.downloads = downloads;
		}

		@GetMapping("/file")
		void file(HttpServletRequest request, HttpServletResponse response) {
			SegmentedFile file = new SegmentedFile(
					List.of(new SegmentedFile.Bytes(Arrays.copyOfRange(CONTENT, 0, HEADER)),
							new SegmentedFile.Bytes(Arrays.copyOfRange(CONTENT, HEADER, SIZE))));
			this.downloads.file(file, ETAG, "weights.safetensors", request, response, this.released::incrementAndGet);
		}

	}

	/** What the slice leaves out but the problem handler and Downloads need. */
	@TestConfiguration(proxyBeanMethods = false)
	@EnableConfigurationProperties(StorageProperties.class)
	static class SliceBeans {

		// Downloads counts its transfers; the slice has no metrics auto-configuration.
		@Bean
		MeterRegistry meterRegistry() {
			return new SimpleMeterRegistry();
		}

		/**
		 * A servlet container's {@code startAsync()} gives the async context the original
		 * response, which Downloads writes the body to; the mock request's gives it none,
		 * so this hands the response over as a container would.
		 */
		@Bean
		FilterRegistrationBean<Filter> containerLikeAsync() {
			Filter filter = (request, response, chain) -> chain
				.doFilter(new HttpServletRequestWrapper((HttpServletRequest) request) {

					@Override
					public AsyncContext startAsync() {
						return startAsync(this, response);
					}

				}, response);
			FilterRegistrationBean<Filter> registration = new FilterRegistrationBean<>(filter);
			registration.setOrder(Ordered.HIGHEST_PRECEDENCE);
			return registration;
		}

	}

}
