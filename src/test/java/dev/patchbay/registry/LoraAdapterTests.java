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
	void cpLoraModulesImplyTheirKernelShapeAndRsLoraScale() throws IOException {
		LoraAdapter adapter = fixture("conv_adapters_seed4/cp_lora_r6_rslora/adapter");
		LoraModule dec = adapter.modules()
			.stream()
			.filter((m) -> m.module().equals("dec.0.conv"))
			.findFirst()
			.orElseThrow();
		assertThat(dec.layout()).isEqualTo(LoraAdapter.Layout.CP);
		assertThat(dec.baseShape(false)).containsExactly(16L, 32L, 1L, 3L);
		assertThat(dec.scale()).isEqualTo(12 / Math.sqrt(6));
	}

	@Test
	void loralibModulesImplyASquareKernelFromTheirFactorRows() throws IOException {
		LoraAdapter adapter = fixture("conv_adapters_seed4/loralib_conv_r2/adapter");
		assertThat(adapter.modules()).extracting(LoraModule::layout).containsOnly(LoraAdapter.Layout.LORALIB_CONV);
		assertThat(adapter.modules()).extracting(LoraModule::loralibKernel).containsOnly(3);
		assertThat(adapter.modules().get(1).baseShape(false)).containsExactly(32L, 16L, 3L, 3L);
	}

	@Test
	void aLoralibLayoutWithDoraIsRefused() {
		String config = """
				{"r": 1, "lora_alpha": 1, "target_modules": ["c"], "conv_layout": "loralib", "use_dora": true}""";
		assertThatExceptionOfType(AdapterConfigException.class)
			.isThrownBy(() -> LoraAdapter.parse(config.getBytes(),
					List.of(TensorSpec.of("base_model.model.c.lora_A.weight", DType.F32, 3, 6),
							TensorSpec.of("base_model.model.c.lora_B.weight", DType.F32, 6, 3))))
			.withMessageContaining("conv_layout");
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
