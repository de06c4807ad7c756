package dev.patchbay.inference;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;

import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.test.context.TestPropertySource;

import dev.patchbay.engine.GraphModel;
import dev.patchbay.engine.HostTensor;
import dev.patchbay.shared.DType;
import dev.patchbay.support.ApiClient;
import dev.patchbay.support.Fixtures;
import dev.patchbay.support.IntegrationTest;

import static dev.patchbay.support.ApiClient.multipart;
import static org.assertj.core.api.Assertions.assertThat;

/**
 * The model cache with a budget of about two digits models (each ~317 KB loaded).
 */
@IntegrationTest
@TestPropertySource(properties = "patchbay.inference.cache-size=700KB")
class LoadedModelsIntegrationTests {

	@Autowired
	LoadedModels models;

	@Autowired
	ApiClient api;

	@Test
	void leastRecentlyUsedModelsAreEvictedBeyondTheBudgetWithoutDisturbingRequestsInFlight() {
		List<String> ids = new ArrayList<>();
		for (String name : List.of("base_v1", "base_v2", "robust_noise_v1")) {
			ids.add(this.api
				.postMultipart("/api/v1/models",
						multipart(Map.of("name", "cache-" + name))
							.file("weights", Fixtures.path("digits/" + name + ".safetensors"))
							.file("graph", Fixtures.path("digits/digits_cnn.pt")))
				.json()
				.get("id")
				.asString());
		}
		try (LoadedModels.Lease first = this.models.lease(ids.get(0))) {
			GraphModel firstModel = first.model();
			try (LoadedModels.Lease again = this.models.lease(ids.get(0))) {
				assertThat(again.model()).as("a cache hit shares the loaded model").isSameAs(firstModel);
			}
			this.models.lease(ids.get(1)).close();
			this.models.lease(ids.get(2)).close();
			// ids[0] was evicted by now, but the lease still held keeps its model usable.
			assertThat(forward(firstModel)).hasSize(10);
			try (LoadedModels.Lease reloaded = this.models.lease(ids.get(0))) {
				assertThat(reloaded.model()).as("evicted models load afresh").isNotSameAs(firstModel);
				assertThat(forward(reloaded.model())).isEqualTo(forward(firstModel));
			}
		}
	}

	private static float[] forward(GraphModel model) {
		ByteBuffer zeros = ByteBuffer.allocate(64 * 4).order(ByteOrder.LITTLE_ENDIAN);
		HostTensor output = model.forward(List.of(new HostTensor(DType.F32, new long[] { 1, 1, 8, 8 }, zeros))).get(0);
		float[] logits = new float[10];
		output.data().duplicate().order(ByteOrder.LITTLE_ENDIAN).asFloatBuffer().get(logits);
		return logits;
	}

}
