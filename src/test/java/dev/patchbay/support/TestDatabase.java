package dev.patchbay.support;

import org.testcontainers.DockerClientFactory;
import org.testcontainers.postgresql.PostgreSQLContainer;

import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.boot.testcontainers.service.connection.ServiceConnection;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Condition;
import org.springframework.context.annotation.ConditionContext;
import org.springframework.context.annotation.Conditional;
import org.springframework.core.type.AnnotatedTypeMetadata;

/**
 * The one place that chooses the tests' PostgreSQL: a Testcontainers container when
 * Docker is available, otherwise nothing here, and the application's own embedded
 * PostgreSQL (real binaries, in the test's data directory) starts instead.
 */
@TestConfiguration(proxyBeanMethods = false)
public class TestDatabase {

	/** Pinned so that every run tests against the same server. */
	static final String IMAGE = "postgres:17.6-alpine";

	@Bean
	@ServiceConnection
	@Conditional(DockerAvailable.class)
	PostgreSQLContainer postgres() {
		return new PostgreSQLContainer(IMAGE);
	}

	static class DockerAvailable implements Condition {

		@Override
		public boolean matches(ConditionContext context, AnnotatedTypeMetadata metadata) {
			return DockerClientFactory.instance().isDockerAvailable();
		}

	}

}
