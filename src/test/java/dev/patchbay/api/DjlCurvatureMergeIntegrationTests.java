package dev.patchbay.api;

import org.springframework.test.context.TestPropertySource;

/**
 * The curvature-aware merges through HTTP again, with the DJL backend composing: its
 * curvature ops agree with the Java backend's.
 */
@TestPropertySource(properties = "patchbay.engine.backend=djl")
class DjlCurvatureMergeIntegrationTests extends CurvatureMergeIntegrationTests {

}
