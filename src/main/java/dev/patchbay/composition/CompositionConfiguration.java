package dev.patchbay.composition;

import java.io.IOException;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Configuration;

/**
 * The local result cache, with its size and evictions as metrics.
 */
@Configuration(proxyBeanMethods = false)
class CompositionConfiguration {

	@Bean
	ResultCache resultCache(CompositionProperties properties, MeterRegistry meters) throws IOException {
		ResultCache cache = new ResultCache(properties.cacheDirectory(), properties.cacheSize().toBytes());
		Gauge.builder("patchbay.composition.cache.size", cache, ResultCache::bytes)
			.description("Bytes of composition results in the local cache")
			.baseUnit("bytes")
			.register(meters);
		FunctionCounter.builder("patchbay.composition.cache.evictions", cache, ResultCache::evictions)
			.description("Composition results evicted from the local cache to stay within its size")
			.register(meters);
		return cache;
	}

}
