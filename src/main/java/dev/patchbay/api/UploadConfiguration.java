package dev.patchbay.api;

import jakarta.servlet.MultipartConfigElement;

import org.springframework.boot.servlet.autoconfigure.MultipartProperties;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

import dev.patchbay.storage.StagingArea;

/**
 * Where multipart request parts are written while a request runs.
 */
@Configuration(proxyBeanMethods = false)
class UploadConfiguration {

	/**
	 * Spring Boot's multipart settings, with parts written to this process's staging area
	 * instead of a new temporary directory per run: what a killed request leaves there is
	 * swept at the next start, and a commit can rename a staged file into the store.
	 */
	@Bean
	MultipartConfigElement multipartConfigElement(MultipartProperties properties, StagingArea staging) {
		MultipartConfigElement configured = properties.createMultipartConfig();
		return new MultipartConfigElement(staging.directory().toString(), configured.getMaxFileSize(),
				configured.getMaxRequestSize(), configured.getFileSizeThreshold());
	}

}
