package io.quotagate.cost;

import static io.quotagate.cost.Manifest.amounts;
import static io.quotagate.cost.Manifest.object;
import static io.quotagate.cost.Manifest.pod;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** Expected values by hand from issue 19 (annotation, template × parallelism) and helpers.go (pod requests). */
class DeclaredRequestsTest {

  private static GenericKubernetesResource workflow(String annotation) {
    return object("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata:\n  name: wf-1\n"
        + (annotation == null ? "" : "  annotations: {quotagate.io/requests: '" + annotation + "'}\n"));
  }

  private static GenericKubernetesResource job(String parallelism) {
    return object("""
        apiVersion: batch/v1
        kind: Job
        metadata: {name: j}
        spec:
        %s  template:
            spec:
              initContainers: [{name: i, image: i, resources: {requests: {cpu: 200m}}}]
              containers: [{name: c, image: i, resources: {requests: {cpu: 500m, memory: 1Gi}}}]
        """.formatted(parallelism == null ? "" : "  parallelism: " + parallelism + "\n"));
  }

  static Stream<Arguments> declared() {
    return Stream.of(
        Arguments.of("issue 19: a Workflow's annotation", workflow("cpu=2,memory=4Gi"), "workflows", "argoproj.io",
            "cpu=2,memory=4Gi"),
        Arguments.of("issue 19: spaces around entries and extended resources", workflow(" cpu = 500m , nvidia.com/gpu=1"),
            "workflows", "argoproj.io", "cpu=500m,nvidia.com/gpu=1"),
        Arguments.of("issue 19: a Workflow without the annotation declares nothing", workflow(null), "workflows",
            "argoproj.io", ""),
        Arguments.of("issue 19 + helpers.go: a Job's template × parallelism 3 (max(200m, 500m) × 3)", job("3"),
            "jobs", "batch", "cpu=1500m,memory=3Gi"),
        Arguments.of("Job controller default: no parallelism is 1", job(null), "jobs", "batch", "cpu=500m,memory=1Gi"),
        Arguments.of("parallelism 0 (a suspended-like Job) declares 0", job("0"), "jobs", "batch", "cpu=0,memory=0"),
        Arguments.of("helpers.go: a Pod's effective requests (init 1 > app 500m)", pod("""
            initContainers: [{name: i, image: i, resources: {requests: {cpu: "1"}}}]
            containers: [{name: c, image: i, resources: {requests: {cpu: 500m}}}]
            """), "pods", "", "cpu=1"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("declared")
  void declaredRequests(String source, GenericKubernetesResource object, String plural, String group,
      String expected) {
    assertThat(amounts(DeclaredRequests.of(object, plural, group))).isEqualTo(amounts(expected));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "cpu", "cpu=", "cpu=two", "cpu=-1", "cpu=2,", "cpu=2,cpu=3", "=2", "cpu=2;memory=1Gi"})
  void anUnparsableAnnotationIsAnErrorNamingTheObjectAndTheAnnotation(String annotation) {
    assertThatThrownBy(() -> DeclaredRequests.of(workflow(annotation), "workflows", "argoproj.io"))
        .isInstanceOf(InvalidDeclaredRequestsException.class)
        .hasMessageContaining("Workflow wf-1")
        .hasMessageContaining("quotagate.io/requests=\"" + annotation + "\" is invalid")
        .hasMessageContaining("cpu=2,memory=4Gi");
  }
}
