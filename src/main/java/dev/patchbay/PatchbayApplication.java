package dev.patchbay;

import org.springframework.boot.SpringApplication;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.context.properties.ConfigurationPropertiesScan;

/**
 * Patchbay: a registry of models and patches that composes them on request.
 */
@SpringBootApplication
@ConfigurationPropertiesScan
public class PatchbayApplication {

	public static void main(String[] args) {
		SpringApplication.run(PatchbayApplication.class, args);
	}

}
