package dev.patchbay.registry;

import java.io.IOException;
import java.nio.file.Files;
import java.util.List;

import org.junit.jupiter.api.Test;

import dev.patchbay.registry.LoraAdapter.LoraModule;
import dev.patchbay.shared.DType;
import dev.patchbay.shared.TensorSpec;
import dev.patchbay.storage.SafetensorsReader;
import dev.patchbay.storage.TensorEntry;
import dev.patchbay.support.Fixtures;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatExceptionOfType;

class LoraAdapterTests {

	@Test
	void plainLoraScalesByAlphaOverRank() throws IOException {
		LoraAdapter adapter = fixture("lora_llama/adapter");
		assertThat(adapter.modules()).hasSize(4).allSatisfy((module) -> assertThat(module.scale()).isEqualTo(16.0 / 8));
		assertThat(adapter.modules().get(0).targetTensor()).isEqualTo("model.layers.0.self_attn.q_proj.weight");
	}

	@Test
	void rsLoraScalesByAlphaOverSquareRootOfRank() throws IOException {
		LoraAdapter adapter = fixture("rslora_llama/adapter");
		assertThat(adapter.modules()).allSatisfy((module) -> assertThat(module.scale()).isEqualTo(8.0 / 2));
	}

	@Test
	void doraAndConvModulesCarryTheirMagnitudesAndKernels() throws IOException {
		LoraAdapter adapter = fixture("dora_cnn_conv/adapter");
		LoraModule conv2 = adapter.modules()
			.stream()
			.filter((m) -> m.module().equals("conv2"))
			.findFirst()
			.orElseThrow();
		assertThat(conv2.isConv()).isTrue();
		assertThat(conv2.magnitude().shape()).containsExactly(1L, 32L, 1L, 1L);
		assertThat(adapter.config().useDora()).isTrue();
	}

	@Test
	void rankAndAlphaPatternsOverrideDefaultsPerModule() {
		String config = """
				{"r": 4, "lora_alpha": 8, "target_modules": ["q_proj", "v_proj"],
				 "rank_pattern": {"v_proj": 2}, "alpha_pattern": {"layers.0.self_attn.v_proj": 6}}""";
		LoraAdapter adapter = LoraAdapter.parse(config.getBytes(),
				List.of(TensorSpec.of("base_model.model.layers.0.self_attn.q_proj.lora_A.weight", DType.F32, 4, 8),
						TensorSpec.of("base_model.model.layers.0.self_attn.q_proj.lora_B.weight", DType.F32, 8, 4),
						TensorSpec.of("base_model.model.layers.0.self_attn.v_proj.lora_A.weight", DType.F32, 2, 8),
						TensorSpec.of("base_model.model.layers.0.self_attn.v_proj.lora_B.weight", DType.F32, 8, 2)));
		assertThat(adapter.modules()).extracting(LoraModule::rank).containsExactly(4, 2);
		assertThat(adapter.modules()).extracting(LoraModule::scale).containsExactly(2.0, 3.0);
	}

	@Test
	void reportsEveryConfigProblemAtOnce() {
		assertThatExceptionOfType(AdapterConfigException.class)
			.isThrownBy(() -> LoraAdapter.parse("{\"r\": 0, \"target_modules\": []}".getBytes(), List.of()))
			.satisfies((ex) -> assertThat(ex.getMessage()).contains("adapter_config.r")
				.contains("adapter_config.lora_alpha")
				.contains("adapter_config.target_modules"));
	}

	@Test
	void rejectsMagnitudesWithoutUseDora() {
		String config = "{\"r\": 1, \"lora_alpha\": 1, \"target_modules\": [\"fc\"]}";
		assertThatExceptionOfType(AdapterConfigException.class)
			.isThrownBy(() -> LoraAdapter.parse(config.getBytes(),
					List.of(TensorSpec.of("base_model.model.fc.lora_A.weight", DType.F32, 1, 3),
							TensorSpec.of("base_model.model.fc.lora_B.weight", DType.F32, 2, 1),
							TensorSpec.of("base_model.model.fc.lora_magnitude_vector", DType.F32, 2))))
			.withMessageContaining("use_dora is not set");
	}

	private static LoraAdapter fixture(String dir) throws IOException {
		byte[] config = Files.readAllBytes(Fixtures.path(dir + "/adapter_config.json"));
		List<TensorSpec> tensors = SafetensorsReader
			.readHeader(Fixtures.path(dir + "/adapter_model.safetensors"), "adapter")
			.tensors()
			.stream()
			.map(TensorEntry::spec)
			.toList();
		return LoraAdapter.parse(config, tensors);
	}

}
