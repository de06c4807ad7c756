package dev.patchbay.registry;

/**
 * What a registry entry is: a full model, a patch to one, or an evaluation dataset.
 */
public enum ArtifactType {

	MODEL, PATCH, DATASET

}
