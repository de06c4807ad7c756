/**
 * Tensor math behind one seam, {@link dev.patchbay.engine.TensorBackend}: the Java
 * backend and DJL's PyTorch (CPU or GPU). The only module that imports DJL; it reads and
 * writes nothing but the buffers it is given.
 */
@ApplicationModule(allowedDependencies = "shared")
package dev.patchbay.engine;

import org.springframework.modulith.ApplicationModule;
