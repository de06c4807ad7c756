package dev.patchbay.support;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

import org.springframework.boot.autoconfigure.ImportAutoConfiguration;
import org.springframework.boot.context.properties.EnableConfigurationProperties;
import org.springframework.context.annotation.Import;

import dev.patchbay.registry.RegistryProperties;

/**
 * Adds the real database to a test slice: the PostgreSQL that {@link TestDatabase}
 * chooses, the schema from the Flyway migrations, and JPA with every repository. The
 * auto-configurations are listed in
 * {@code META-INF/spring/dev.patchbay.support.AutoConfigureDatabase.imports}, by name,
 * because the embedded database's is package-private to the registry.
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@Documented
@ImportAutoConfiguration
@EnableConfigurationProperties(RegistryProperties.class)
@Import(TestDatabase.class)
public @interface AutoConfigureDatabase {

}
