package dev.patchbay.events;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

class WebhookDeliveriesTests {

	@Test
	void signsTheBodyWithHmacSha256AsRfc4231TestCase2() {
		// RFC 4231, 4.3: key "Jefe", data "what do ya want for nothing?".
		assertThat(
				WebhookDeliveries.signature("Jefe", "what do ya want for nothing?".getBytes(StandardCharsets.US_ASCII)))
			.isEqualTo("sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
	}

	@Test
	void waitsTheInitialBackoffDoubledAfterEachFailedAttemptUpToTheMaximum() throws InterruptedException {
		EventsProperties properties = new EventsProperties(10, Duration.ofSeconds(2), Duration.ofSeconds(20),
				Duration.ofSeconds(10), 1, Duration.ofSeconds(1), Duration.ofDays(7), Duration.ofMillis(500),
				Duration.ofSeconds(15), Duration.ofHours(1));
		WebhookDeliveries deliveries = new WebhookDeliveries(null, properties);
		try {
			assertThat(deliveries.backoff(1)).isEqualTo(Duration.ofSeconds(2));
			assertThat(deliveries.backoff(2)).isEqualTo(Duration.ofSeconds(4));
			assertThat(deliveries.backoff(3)).isEqualTo(Duration.ofSeconds(8));
			assertThat(deliveries.backoff(4)).isEqualTo(Duration.ofSeconds(16));
			assertThat(deliveries.backoff(5)).isEqualTo(Duration.ofSeconds(20));
			assertThat(deliveries.backoff(50)).isEqualTo(Duration.ofSeconds(20));
		}
		finally {
			deliveries.close();
		}
	}

}
