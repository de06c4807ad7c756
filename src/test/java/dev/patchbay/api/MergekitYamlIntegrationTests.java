package dev.patchbay.api;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;

import dev.patchbay.support.ApiClient;
import dev.patchbay.support.ApiClient.Response;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * mergekit configs posted as {@code application/yaml}: composed as the same recipe in
 * JSON, and refused by name where a key cannot be honoured.
 */
@IntegrationTest
class MergekitYamlIntegrationTests {

	private static final Duration TIMEOUT = Duration.ofSeconds(20);

	@Autowired
	ApiClient api;

	private String prefix;

	private Map<String, String> ids;

	@BeforeEach
	void uploadModels() {
		this.prefix = "yaml-" + System.nanoTime() + "-";
		this.ids = new java.util.LinkedHashMap<>();
		for (String input : List.of("base", "A", "B", "C")) {
			this.ids.put(input,
					this.api.upload("/api/v1/models", multipart(Map.of("name", this.prefix + input, "version", "v1"))
						.file("weights", Fixtures.path("methods_seed4/inputs/" + input + ".safetensors"))));
		}
	}

	/**
	 * mergekit's own examples/ties.yml (a6e40288), with our models for its four
	 * (orca_mini → A by name, Platypus2 → B by name@version, WizardMath → C by id, the
	 * Llama-2 base → base): gradients, a filter list and a float16 output.
	 */
	@Test
	void composesMergekitsTiesExampleAsTheSameJsonRecipe() {
		String yaml = """
				models:
				  - model: %sA
				    parameters:
				      density: [1, 0.7, 0.1] # density gradient
				      weight: 1.0
				  - model: %sB@v1
				    parameters:
				      density: 0.5
				      weight: [0, 0.3, 0.7, 1] # weight gradient
				  - model: %s
				    parameters:
				      density: 0.33
				      weight:
				        - filter: mlp
				          value: 0.5
				        - value: 0
				merge_method: ties
				base_model: %sbase
				parameters:
				  normalize: true
				  int8_mask: true
				dtype: float16
				""".formatted(this.prefix, this.prefix, this.ids.get("C"), this.prefix);
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "ties", "baseModelId",
				this.ids.get("base"), "computeDtype", "F16", "parameters", Map.of("normalize", true, "int8_mask", true),
				"terms",
				List.of(Map.of("modelId", this.ids.get("A"), "parameters",
						Map.of("density", List.of(1, 0.7, 0.1), "weight", 1.0)),
						Map.of("modelId", this.ids.get("B"), "parameters",
								Map.of("density", 0.5, "weight", List.of(0, 0.3, 0.7, 1))),
						Map.of("modelId", this.ids.get("C"), "parameters", Map.of("density", 0.33, "weight",
								List.of(Map.of("filter", "mlp", "value", 0.5), Map.of("value", 0))))));
		byte[] weights = assertSameComposition(yaml, recipe);
		assertThat(Fixtures.header(weights).get("model.layers.0.self_attn.q_proj.weight").get("dtype").asString())
			.isEqualTo("F16");
		// Not the base: the terms changed it.
		assertThat(Fixtures.floats(weights).get("model.layers.0.self_attn.q_proj.weight"))
			.isNotEqualTo(Fixtures.floats(Fixtures.path("methods_seed4/inputs/base.safetensors"))
				.get("model.layers.0.self_attn.q_proj.weight"));
	}

	/**
	 * mergekit's examples/linear.yml: three weighted models, no base, float16 out
	 * (orca_mini → A, WizardLM → B, Platypus2 → C).
	 */
	@Test
	void composesMergekitsLinearExampleAsTheSameJsonRecipe() {
		String yaml = """
				models:
				  - model: %1$sA
				    parameters:
				      weight: 1.0
				  - model: %1$sB
				    parameters:
				      weight: 0.3
				  - model: %1$sC
				    parameters:
				      weight: 0.5
				merge_method: linear
				dtype: float16
				""".formatted(this.prefix);
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "linear", "computeDtype", "F16", "terms",
				List.of(Map.of("modelId", this.ids.get("A"), "parameters", Map.of("weight", 1.0)),
						Map.of("modelId", this.ids.get("B"), "parameters", Map.of("weight", 0.3)),
						Map.of("modelId", this.ids.get("C"), "parameters", Map.of("weight", 0.5))));
		assertSameComposition(yaml, recipe);
	}

	/**
	 * mergekit's examples/arcee_fusion.yml, which lists its base among the models
	 * (model_a → base, model_b → A); bfloat16 out.
	 */
	@Test
	void composesMergekitsArceeFusionExampleWithItsBaseListedAmongTheModels() {
		String yaml = """
				models:
				  - model: %1$sbase
				  - model: %1$sA
				merge_method: arcee_fusion
				base_model: %1$sbase
				dtype: bfloat16
				""".formatted(this.prefix);
		Map<String, Object> recipe = Map.of("dialect", "mergekit", "method", "arcee_fusion", "baseModelId",
				this.ids.get("base"), "computeDtype", "BF16", "terms", List.of(Map.of("modelId", this.ids.get("A"))));
		byte[] weights = assertSameComposition(yaml, recipe);
		assertThat(Fixtures.header(weights).get("model.embed_tokens.weight").get("dtype").asString()).isEqualTo("BF16");
	}

	/**
	 * YAML in, compose, recipe.yaml out, compose again from it (the first composition
	 * deleted, so it is computed anew): the same weights, byte for byte; the result
	 * folder carries the same config as mergekit_config.yml.
	 */
	@Test
	void recipeYamlReadsBackAsTheSameRecipeAndTheSameWeights() {
		String yaml = """
				models:
				  - model: %1$sA
				    parameters:
				      density: [1, 0.7, 0.1]
				      weight: 1.0
				  - model: %1$sB@v1
				    parameters:
				      density: 0.5
				      weight:
				        - filter: mlp
				          value: 0.5
				        - value: [0, 0.3, 0.7, 1]
				merge_method: ties
				base_model: %1$sbase
				parameters:
				  normalize: true
				  lambda: 0.9
				dtype: bfloat16
				""".formatted(this.prefix);
		Response created = this.api.postRaw("/api/v1/compositions", "application/yaml",
				yaml.getBytes(StandardCharsets.UTF_8));
		assertThat(created.code()).as(new String(created.body(), StandardCharsets.UTF_8)).isEqualTo(201);
		String first = created.json().get("id").asString();
		String recipeDigest = created.json().get("recipeDigest").asString();
		this.api.awaitReady(first, TIMEOUT);
		String weights = dev.patchbay.shared.Sha256
			.hex(this.api.get("/api/v1/compositions/" + first + "/weights").body());
		Response exported = this.api.get("/api/v1/compositions/" + first + "/recipe.yaml");
		assertThat(exported.code()).isEqualTo(200);
		assertThat(exported.contentType()).startsWith("application/yaml");
		String recipe = new String(exported.body(), StandardCharsets.UTF_8);
		assertThat(recipe).contains("merge_method: ties", "base_model: " + this.prefix + "base@v1",
				"model: " + this.prefix + "A@v1", "filter: mlp", "normalize: true", "dtype: bfloat16");
		assertThat(this.api.get("/api/v1/compositions/" + first + "/files/mergekit_config.yml").body())
			.isEqualTo(exported.body());

		assertThat(this.api.delete("/api/v1/compositions/" + first).code()).isEqualTo(204);
		Response again = this.api.postRaw("/api/v1/compositions", "application/yaml", exported.body());
		assertThat(again.code()).as(new String(again.body(), StandardCharsets.UTF_8)).isEqualTo(201);
		String second = again.json().get("id").asString();
		assertThat(second).isNotEqualTo(first);
		assertThat(again.json().get("recipeDigest").asString()).isEqualTo(recipeDigest);
		this.api.awaitReady(second, TIMEOUT);
		assertThat(dev.patchbay.shared.Sha256.hex(this.api.get("/api/v1/compositions/" + second + "/weights").body()))
			.isEqualTo(weights);
		assertThat(this.api.get("/api/v1/compositions/" + second + "/recipe.yaml").body()).isEqualTo(exported.body());
	}

	@Test
	void refusesRecipeYamlForWhatMergekitCannotExpress() {
		String lora = this.api.uploadLora(this.prefix + "lora", "lora_llama/adapter");
		String llama = this.api.upload("/api/v1/models", multipart(Map.of("name", this.prefix + "llama"))
			.file("weights", Fixtures.path("lora_llama/base.safetensors")));
		String peft = this.api.compose(Map.of("baseModelId", llama, "method", "ties", "density", 0.5, "terms",
				List.of(Map.of("patchId", lora, "weight", 1.0))));
		Response refused = this.api.get("/api/v1/compositions/" + peft + "/recipe.yaml");
		assertThat(refused.code()).isEqualTo(422);
		assertThat(refused.json().get("detail").asString()).contains("peft-dialect", "terms[0].patchId");
		this.api.awaitReady(peft, TIMEOUT);
		assertThat(this.api.get("/api/v1/compositions/" + peft + "/files/mergekit_config.yml").code()).isEqualTo(404);
		String seeded = this.api.compose(Map.of("dialect", "mergekit", "method", "dare_linear", "seed", 7,
				"baseModelId", this.ids.get("base"), "terms",
				List.of(Map.of("modelId", this.ids.get("A"), "parameters", Map.of("weight", 1, "density", 0.5)))));
		Response unseeded = this.api.get("/api/v1/compositions/" + seeded + "/recipe.yaml");
		assertThat(unseeded.code()).isEqualTo(422);
		assertThat(unseeded.json().get("detail").asString()).contains("seed: 7");
	}

	/** Composes the config and the JSON recipe, and returns their (equal) weights. */
	private byte[] assertSameComposition(String yaml, Map<String, Object> recipe) {
		Response created = this.api.postRaw("/api/v1/compositions", "application/yaml",
				yaml.getBytes(StandardCharsets.UTF_8));
		assertThat(created.code()).as(new String(created.body(), StandardCharsets.UTF_8)).isEqualTo(201);
		String fromYaml = created.json().get("id").asString();
		Response json = this.api.postJson("/api/v1/compositions", recipe);
		assertThat(json.code()).isIn(200, 201);
		String fromJson = json.json().get("id").asString();
		this.api.awaitReady(fromYaml, TIMEOUT);
		this.api.awaitReady(fromJson, TIMEOUT);
		byte[] weights = this.api.get("/api/v1/compositions/" + fromYaml + "/weights").body();
		assertThat(weights).isNotEmpty()
			.isEqualTo(this.api.get("/api/v1/compositions/" + fromJson + "/weights").body());
		return weights;
	}

	@Test
	void refusesEveryKeyItCannotHonourInOne422NamingThem() {
		String yaml = """
				models:
				  - model: %sA
				    parameters: {weight: 1.0}
				    lora: x
				  - model: nobody@v9
				merge_method: linear
				tokenizer_source: union
				chat_template: chatml
				slices: []
				frobnicate: 1
				dtype: float8
				""".formatted(this.prefix);
		Response refused = this.api.postRaw("/api/v1/compositions", "application/yaml",
				yaml.getBytes(StandardCharsets.UTF_8));
		assertThat(refused.code()).isEqualTo(422);
		assertThat(refused.json().get("detail").asString()).contains("tokenizer_source:", "chat_template:", "slices:",
				"frobnicate:", "dtype:", "models[0].lora:", "models[1].model: 'nobody@v9'");
	}

	@Test
	void refusesSeveralDocumentsAndNamesAnUnknownMethod() {
		Response documents = this.api.postRaw("/api/v1/compositions", "application/yaml",
				"merge_method: linear\n---\nmerge_method: linear\n".getBytes(StandardCharsets.UTF_8));
		assertThat(documents.code()).isEqualTo(422);
		assertThat(documents.json().get("detail").asString()).contains("2 documents");
		String yaml = "merge_method: weighted_average\nbase_model: %sbase\nmodels:\n  - model: %sA\n"
			.formatted(this.prefix, this.prefix);
		Response unknown = this.api.postRaw("/api/v1/compositions", "application/yaml",
				yaml.getBytes(StandardCharsets.UTF_8));
		assertThat(unknown.code()).isEqualTo(422);
		assertThat(unknown.json().get("detail").asString()).contains("weighted_average", "ties", "arcee_fusion");
	}

}
