package dev.patchbay.registry;

import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * A generated {@code README.md} model card: YAML front matter as the Hub reads it
 * ({@code base_model}, {@code base_model_relation}, {@code library_name}, {@code tags}),
 * then a body in Markdown.
 *
 * @param baseModel the repo id of the base, e.g. {@code patchbay/llama-base}, or null
 * @param relation {@code merge}, {@code adapter}, {@code finetune} or {@code quantized},
 * or null
 * @param libraryName {@code transformers}, {@code peft}, ..., or null
 * @param tags tags, {@code patchbay} first
 * @param title the heading
 * @param body the Markdown under the heading
 */
public record ModelCard(String baseModel, String relation, String libraryName, List<String> tags, String title,
		String body) {

	public static final String PATH = "README.md";

	public ModelCard {
		tags = List.copyOf(tags);
	}

	public byte[] render() {
		StringBuilder card = new StringBuilder("---\n");
		if (this.baseModel != null) {
			card.append("base_model: ").append(yaml(this.baseModel)).append('\n');
		}
		if (this.relation != null) {
			card.append("base_model_relation: ").append(this.relation).append('\n');
		}
		if (this.libraryName != null) {
			card.append("library_name: ").append(this.libraryName).append('\n');
		}
		if (!this.tags.isEmpty()) {
			card.append("tags:\n");
			this.tags.forEach((tag) -> card.append("- ").append(yaml(tag)).append('\n'));
		}
		card.append("---\n\n# ").append(this.title).append("\n\n").append(this.body.strip()).append('\n');
		return card.toString().getBytes(StandardCharsets.UTF_8);
	}

	/** A plain scalar where that is safe, else a double-quoted one. */
	private static String yaml(String value) {
		return value.matches("[A-Za-z0-9_][A-Za-z0-9_./@-]*") ? value
				: "\"" + value.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
	}

}
