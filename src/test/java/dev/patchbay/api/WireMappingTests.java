package dev.patchbay.api;

import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import tools.jackson.databind.json.JsonMapper;

import dev.patchbay.api.DerivationRequests.LoraCombinationRequest;
import dev.patchbay.api.DerivationRequests.RwsRequest;
import dev.patchbay.composition.RecipeDraft;
import dev.patchbay.shared.InvalidInputException;
import dev.patchbay.transform.Transform;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

/**
 * The flat request bodies split into the modules' records at the edge: a field only the
 * other dialect or kind reads is refused there, by name, and everything else arrives
 * unchanged for the module to check.
 */
class WireMappingTests {

	private static final JsonMapper JSON = JsonMapper.builder().build();

	private static <T> T read(String json, Class<T> type) {
		return JSON.readValue(json, type);
	}

	@Test
	void aPeftRecipeArrivesWithItsShorthandsAndOutput() {
		RecipeDraft draft = read("""
				{"baseModelId": "base@prod", "terms": [{"patchId": "p", "weight": 0.5}, null], "method": "ties",
				 "density": 0.2, "majoritySign": "frequency", "seed": 3, "outputDtype": "bf16",
				 "safeMerge": false, "resultName": "merged"}""", CompositionRequest.class).draft();
		assertThat(draft).isInstanceOf(RecipeDraft.Peft.class);
		RecipeDraft.Peft peft = (RecipeDraft.Peft) draft;
		assertThat(peft.baseModelId()).isEqualTo("base@prod");
		assertThat(peft.terms()).containsExactly(new RecipeDraft.Term("p", 0.5, null, null), null);
		assertThat(List.of(peft.method(), peft.density(), peft.majoritySign(), peft.seed())).containsExactly("ties",
				0.2, "frequency", 3L);
		assertThat(peft.output()).isEqualTo(new RecipeDraft.Output("bf16", null, false, "merged"));
	}

	@Test
	void aMergekitRecipeArrivesWithItsParametersAndSlices() {
		RecipeDraft draft = read("""
				{"dialect": "mergekit", "method": "passthrough", "computeDtype": "F16",
				 "parameters": {"t": 0.5},
				 "slices": [{"sources": [{"modelId": "m", "layerRange": [0, 2]}]}]}""", CompositionRequest.class)
			.draft();
		assertThat(draft).isInstanceOf(RecipeDraft.Mergekit.class);
		RecipeDraft.Mergekit mergekit = (RecipeDraft.Mergekit) draft;
		assertThat(mergekit.computeDtype()).isEqualTo("F16");
		assertThat(mergekit.parameters().get("t").asDouble()).isEqualTo(0.5);
		assertThat(mergekit.slices()).singleElement()
			.satisfies((slice) -> assertThat(slice.sources())
				.containsExactly(new RecipeDraft.Source("m", List.of(0, 2), null)));
		assertThat(mergekit.terms()).isNull();
	}

	@Test
	void refusesWhatOnlyTheOtherDialectReadsNamingTheField() {
		assertRefused("{\"terms\": [], \"parameters\": {\"t\": 1}}", "parameters");
		assertRefused("{\"terms\": [], \"slices\": [{}]}", "slices");
		assertRefused("{\"terms\": [], \"computeDtype\": \"F16\"}", "computeDtype");
		assertRefused("{\"dialect\": \"mergekit\", \"majoritySign\": \"total\"}", "majoritySign");
		assertRefused("{\"dialect\": \"mergekit\", \"density\": 0.5}", "density");
		assertRefused("{\"dialect\": \"transformers\"}", "dialect");
	}

	private static void assertRefused(String json, String field) {
		CompositionRequest request = read(json, CompositionRequest.class);
		assertThatExceptionOfType(InvalidInputException.class).isThrownBy(request::draft)
			.satisfies((ex) -> assertThat(ex.properties()).containsEntry("field", field))
			.withMessageStartingWith(field + ": ");
	}

	@Test
	void aTransformBecomesTheRecordOfItsKindWithTheStudentWidthsNamedAsInConfigJson() {
		TransformRequest request = read("""
				{"kind": "inherit", "name": "student", "every": 2,
				 "config": {"hidden_size": 64, "num_key_value_heads": 2}}""", TransformRequest.class);
		assertThat(request.transform())
			.isEqualTo(new Transform.Inherit(null, 2, new Transform.Widths(64, null, null, 2)));
		assertThat(request.target()).isEqualTo(new Transform.Target("student", null, null));
		assertThat(read("{\"kind\": \"quantize\", \"bits\": 4, \"granularity\": \"group\", \"groupSize\": 32}",
				TransformRequest.class)
			.transform()).isEqualTo(new Transform.Quantize(4, "group", 32, null, null));
	}

	@Test
	void refusesATransformFieldOfAnotherKindAndAnUnknownKind() {
		TransformRequest foreign = read("{\"kind\": \"drop_blocks\", \"blocks\": [1], \"bits\": 8, \"depth\": 3}",
				TransformRequest.class);
		// The first foreign field in the contract's order, whatever the body's order.
		assertThatExceptionOfType(InvalidInputException.class).isThrownBy(foreign::transform)
			.withMessage("depth: is not used by kind drop_blocks");
		assertThatExceptionOfType(InvalidInputException.class)
			.isThrownBy(() -> read("{\"kind\": \"prune\"}", TransformRequest.class).transform())
			.satisfies((ex) -> assertThat(ex.properties()).containsEntry("field", "kind"));
	}

	@Test
	void aDerivationSplitsIntoThePatchItRegistersAndWhatItComputes() {
		RwsRequest rws = read("""
				{"name": "sig", "version": "v1", "labels": {"a": "b"}, "cleanModelId": "c", "robustModelId": "r",
				 "include": ["fc"], "quantization": {"bits": 4}}""", RwsRequest.class);
		assertThat(rws.patch().name()).isEqualTo("sig");
		assertThat(rws.patch().version()).isEqualTo("v1");
		assertThat(rws.patch().labels()).isEqualTo(Map.of("a", "b"));
		assertThat(rws.derivation().quantization().bits()).isEqualTo(4);
		assertThat(rws.derivation().quantization().granularity()).isNull();
		assertThat(rws.derivation().pretrainedModelId()).isNull();
		LoraCombinationRequest combination = read("""
				{"name": "c", "combination": "svd", "terms": [{"patchId": "a", "weight": 2}, null], "rank": 4}""",
				LoraCombinationRequest.class);
		assertThat(combination.derivation().terms()).hasSize(2);
		assertThat(combination.derivation().terms().get(0).weight()).isEqualTo(2.0);
		assertThat(combination.derivation().terms().get(1)).isNull();
		assertThat(combination.derivation().rank()).isEqualTo(4);
	}

}
