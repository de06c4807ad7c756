package dev.patchbay.deploy;

import java.nio.file.Path;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Renders and lints the Helm chart with helm's own Go libraries (helm-java), offline.
 */
class HelmChartTests {

	private static final Path CHART = Path.of("helm", "patchbay");

	@Test
	void chartLintsCleanly() {
		LintResult result = new Helm(CHART).lint().strict().call();
		assertThat(result.isFailed()).as(String.join("\n", result.getMessages())).isFalse();
	}

	@Test
	void defaultsRenderOneHardenedPodOnItsOwnVolume() {
		String manifests = template().call();
		assertThat(manifests)
			.contains("kind: Deployment", "kind: Service", "kind: ConfigMap", "kind: ServiceAccount",
					"kind: PersistentVolumeClaim")
			.contains("runAsNonRoot: true", "readOnlyRootFilesystem: true", "mountPath: /tmp", "mountPath: /cache")
			.contains("path: /actuator/health/liveness", "path: /actuator/health/readiness")
			.doesNotContain("kind: Ingress", "kind: HorizontalPodAutoscaler", "nvidia.com/gpu",
					"SPRING_DATASOURCE_URL");
	}

	@Test
	void gpuIngressAndExternalDatabaseValuesRenderTheirResources() {
		String manifests = template().set("gpu.enabled", "true")
			.set("ingress.enabled", "true")
			.set("ingress.host", "patchbay.internal")
			.set("database.url", "jdbc:postgresql://db:5432/patchbay")
			.set("database.existingSecret", "patchbay-db")
			.set("autoscaling.enabled", "true")
			.set("podDisruptionBudget.enabled", "true")
			.set("nodeSelector.accelerator", "nvidia")
			.call();
		assertThat(manifests)
			.contains("nvidia.com/gpu: 1", "name: PATCHBAY_ENGINE_DEVICE", "value: gpu", "accelerator: nvidia")
			.contains("kind: Ingress", "host: \"patchbay.internal\"")
			.contains("name: SPRING_DATASOURCE_URL", "name: patchbay-db")
			.contains("kind: HorizontalPodAutoscaler", "kind: PodDisruptionBudget");
	}

	private static TemplateCommand template() {
		return new Helm(CHART).template().withName("patchbay");
	}

}
