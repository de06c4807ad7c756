package dev.patchbay.engine;

import java.util.Random;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class TensorEngineTests {

	static TensorEngine engine;

	@BeforeAll
	static void start() {
		engine = new TensorEngine(new EngineProperties(EngineProperties.DeviceChoice.CPU));
	}

	@AfterAll
	static void stop() {
		engine.close();
	}

	@Test
	void scaledMatmulMatchesANaiveProduct() {
		Random random = new Random(7);
		int m = 5;
		int k = 3;
		int n = 4;
		float[] left = new float[m * k];
		float[] right = new float[k * n];
		for (int i = 0; i < left.length; i++) {
			left[i] = random.nextFloat() - 0.5f;
		}
		for (int i = 0; i < right.length; i++) {
			right[i] = random.nextFloat() - 0.5f;
		}
		float[] product = new float[m * n + 1];
		product[m * n] = 42f;
		engine.scaledMatmul(left, m, k, right, n, 2.5f, product);
		assertThat(product[m * n]).as("writes only m·n elements").isEqualTo(42f);
		for (int i = 0; i < m; i++) {
			for (int j = 0; j < n; j++) {
				double expected = 0;
				for (int p = 0; p < k; p++) {
					expected += left[i * k + p] * right[p * n + j];
				}
				assertThat(product[i * n + j]).isCloseTo((float) (2.5 * expected), within(1e-5f));
			}
		}
		assertThat(engine.device()).isEqualTo("cpu()");
	}

}
