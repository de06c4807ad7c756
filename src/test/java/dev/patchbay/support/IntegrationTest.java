package dev.patchbay.support;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.context.annotation.Import;

/**
 * A test against the real server on a random port, real PostgreSQL and a real blob store
 * in a fresh data directory.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
		properties = { "patchbay.data-dir=target/test-data/${random.uuid}",
				"patchbay.security.admin-key=" + ApiClient.TEST_ADMIN_KEY })
@Import({ TestDatabase.class, ApiClient.class, TestDataCleanup.class })
public @interface IntegrationTest {

}
