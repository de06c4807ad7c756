package dev.patchbay.api;

import org.apache.coyote.AbstractProtocol;

import org.springframework.boot.tomcat.servlet.TomcatServletWebServerFactory;
import org.springframework.boot.web.server.WebServerFactoryCustomizer;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * Connector settings that downloads rely on.
 */
@Configuration(proxyBeanMethods = false)
class DownloadConfiguration {

	/**
	 * Tomcat has one write timeout, its connection timeout: it bounds how long a blocking
	 * write and a sendfile transfer may make no progress. Applied after Spring Boot's own
	 * customizer, so it takes the place of {@code server.tomcat.connection-timeout}. The
	 * valve lets a failed download close its connection.
	 */
	@Bean
	WebServerFactoryCustomizer<TomcatServletWebServerFactory> downloadConnector(ApiProperties properties) {
		int idleMillis = Math.toIntExact(properties.downloadIdleTimeout().toMillis());
		return (factory) -> {
			factory.addConnectorCustomizers((connector) -> {
				if (connector.getProtocolHandler() instanceof AbstractProtocol<?> protocol) {
					protocol.setConnectionTimeout(idleMillis);
				}
			});
			factory.addContextValves(new ConnectionAbort.Valve());
		};
	}

}
