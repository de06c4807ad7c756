package dev.patchbay.api;

import org.springframework.test.context.TestPropertySource;

/**
 * Every golden composition test through HTTP again, with the DJL backend composing: the
 * service's results do not depend on which backend runs them.
 */
@TestPropertySource(properties = "patchbay.engine.backend=djl")
class DjlCompositionIntegrationTests extends CompositionIntegrationTests {

}
