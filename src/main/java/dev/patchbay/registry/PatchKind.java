package dev.patchbay.registry;

import com.fasterxml.jackson.annotation.JsonValue;

/**
 * The kinds of patch: a fine-tuning diff vector, a Robust Weight Signature, or a PEFT
 * LoRA-family adapter.
 */
public enum PatchKind {

	DIFF, RWS, LORA;

	@JsonValue
	public String wireName() {
		return name().toLowerCase();
	}

}
