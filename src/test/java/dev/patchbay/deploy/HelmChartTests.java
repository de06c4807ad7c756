package dev.patchbay.deploy;

import java.nio.file.Path;

import com.marcnuri.helm.Helm;
import com.marcnuri.helm.LintResult;
import com.marcnuri.helm.TemplateCommand;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

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
	void gpuS3IngressAndExternalDatabaseValuesRenderTheirResources() {
		String manifests = template().set("gpu.enabled", "true")
			.set("storage.type", "s3")
			.set("storage.s3.bucket", "ml-blobs")
			.set("storage.s3.endpoint", "https://minio.internal:9000")
			.set("storage.s3.pathStyleAccess", "true")
			.set("storage.s3.existingSecret", "patchbay-s3")
			.set("security.adminKeySecret", "patchbay-admin")
			.set("logFormat", "json")
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
			.contains("kind: HorizontalPodAutoscaler", "kind: PodDisruptionBudget")
			.contains("name: PATCHBAY_STORAGE_TYPE", "value: s3", "value: \"ml-blobs\"",
					"value: \"https://minio.internal:9000\"", "name: PATCHBAY_STORAGE_S3_PATHSTYLEACCESS")
			.contains("name: PATCHBAY_STORAGE_S3_ACCESSKEYID", "name: patchbay-s3, key: access-key-id",
					"name: patchbay-s3, key: secret-access-key")
			.contains("name: PATCHBAY_SECURITY_ADMIN_KEY", "name: patchbay-admin, key: admin-key")
			.contains("name: LOGGING_STRUCTURED_FORMAT_CONSOLE");
	}

	@Test
	void defaultsKeepBlobsOnTheVolumeAndTheAdminKeyUnset() {
		assertThat(template().call()).doesNotContain("PATCHBAY_STORAGE_TYPE", "PATCHBAY_SECURITY_ADMIN_KEY",
				"LOGGING_STRUCTURED_FORMAT_CONSOLE");
	}

	@Test
	void severalReplicasWithoutASharedDatabaseAndBucketAreRefused() {
		assertThatThrownBy(() -> template().set("replicaCount", "2").call())
			.hasMessageContaining("more than one replica needs database.url and storage.type=s3");
		assertThatThrownBy(() -> template().set("storage.type", "s3").call())
			.hasMessageContaining("storage.s3.bucket is required");
	}

	private static TemplateCommand template() {
		return new Helm(CHART).template().withName("patchbay");
	}

}
