/**
 * Bytes by digest: the blob stores (file system, S3 with a local cache), staging, and
 * safetensors reading and writing. Knows no artifact, only blobs and files.
 */
@ApplicationModule(allowedDependencies = "shared")
package dev.patchbay.storage;

import org.springframework.modulith.ApplicationModule;
