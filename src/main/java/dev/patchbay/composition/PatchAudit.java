package dev.patchbay.composition;

import java.util.List;
import java.util.UUID;

/**
 * What a patch at weight 1 does to a model's weights, layer by layer: how far it moves
 * them, how sparse its delta is, which neurons it effectively removes, and how it changes
 * each matrix's top singular value (its gain).
 *
 * @param patchId the patch audited
 * @param modelId the model it was applied to
 * @param flagged whether any layer removes more neurons than the policy allows
 * @param policy the thresholds the audit applied
 * @param layers the layers the patch changes, in the model's tensor order
 */
public record PatchAudit(UUID patchId, UUID modelId, boolean flagged, Policy policy, List<Layer> layers) {

	/** The flagged layers only. */
	public List<Layer> flaggedLayers() {
		return this.layers.stream().filter(Layer::flagged).toList();
	}

	/**
	 * @param removedNeuronFraction fraction of a layer's neurons a patch may remove
	 * @param collapseFraction a neuron whose patched norm is below this fraction of its
	 * base norm counts as removed
	 */
	public record Policy(double removedNeuronFraction, double collapseFraction) {
	}

	/**
	 * One layer: a {@code layers.N} block, or the module of a tensor outside the blocks.
	 *
	 * @param layer the layer's name prefix, e.g. {@code model.layers.3}
	 * @param tensors the tensors of the layer the patch changes
	 * @param relativeL2 ‖ΔW‖ / ‖W‖ over those tensors (Frobenius norms), or null when the
	 * base is all zeros and the delta is not
	 * @param maxAbs the largest |ΔW| element
	 * @param sparsity the fraction of ΔW's elements that are exactly zero
	 * @param neurons the layer's neuron count (rows of its up/gate projections, columns
	 * of its down projection), 0 when it has no neuron tensor
	 * @param removedNeurons indices of the neurons whose patched norm collapses,
	 * ascending
	 * @param flagged whether more than the policy's fraction of neurons is removed
	 * @param matrices per changed matrix (convolutions flattened to [out, in·kh·kw]), its
	 * top singular value before and after the patch
	 */
	public record Layer(String layer, List<String> tensors, Double relativeL2, double maxAbs, double sparsity,
			int neurons, List<Integer> removedNeurons, boolean flagged, List<Matrix> matrices) {
	}

	/**
	 * @param tensor the tensor
	 * @param sigmaBefore the base's top singular value, by power iteration
	 * @param sigmaAfter the patched tensor's top singular value
	 */
	public record Matrix(String tensor, double sigmaBefore, double sigmaAfter) {
	}

}
