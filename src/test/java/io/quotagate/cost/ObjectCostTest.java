package io.quotagate.cost;

import static io.quotagate.cost.Manifest.amounts;
import static io.quotagate.cost.Manifest.object;
import static io.quotagate.cost.Manifest.pod;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every expected charge is computed by hand from the apiserver's rules: pods.go = pkg/quota/v1/evaluator/core/pods.go
 * ({@code PodUsageFunc}, {@code podComputeUsageHelper}); helpers.go = k8s.io/component-helpers/resource/helpers.go
 * ({@code PodRequests}, {@code PodLimits}); generic = k8s.io/apiserver/pkg/quota/v1/generic (object count);
 * registry.go = pkg/quota/v1/evaluator/core/registry.go (legacy aliases).
 */
class ObjectCostTest {

  private static final String WORKFLOW = """
      apiVersion: argoproj.io/v1alpha1
      kind: Workflow
      metadata: {generateName: wf-}
      spec: {entrypoint: main}
      """;
  private static final String JOB = """
      apiVersion: batch/v1
      kind: Job
      metadata: {name: j}
      spec:
        parallelism: 4
        template:
          spec:
            containers: [{name: c, image: i, resources: {requests: {cpu: 500m}}}]
      """;

  static Stream<Arguments> charges() {
    return Stream.of(
        Arguments.of("generic: a Workflow is charged its object count only",
            object(WORKFLOW), "workflows", "argoproj.io", "count/workflows.argoproj.io=1"),
        Arguments.of("generic: a Job is charged its count, not its pods' requests (pods are charged when created)",
            object(JOB), "jobs", "batch", "count/jobs.batch=1"),
        Arguments.of("generic + registry.go: a ConfigMap is charged count/configmaps and legacy configmaps",
            object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), "configmaps", "",
            "count/configmaps=1,configmaps=1"),
        Arguments.of("pods.go: a pod without resources is charged pods and count/pods, no compute (not even 0)",
            pod("containers: [{name: c, image: i}]"), "pods", null, "count/pods=1,pods=1"),
        Arguments.of("pods.go podComputeUsageHelper: requests as requests.* and unprefixed, limits as limits.*",
            pod("""
                containers:
                - name: c
                  image: i
                  resources:
                    requests: {cpu: 500m, memory: 1Gi}
                    limits: {cpu: "1", memory: 2Gi}
                """), "pods", "",
            "count/pods=1,pods=1,cpu=500m,requests.cpu=500m,memory=1Gi,requests.memory=1Gi,"
                + "limits.cpu=1,limits.memory=2Gi"),
        Arguments.of("helpers.go: app containers are summed (300m + 400m = 700m)",
            pod("""
                containers:
                - {name: a, image: i, resources: {requests: {cpu: 300m}}}
                - {name: b, image: i, resources: {requests: {cpu: 400m}}}
                """), "pods", "", "count/pods=1,pods=1,cpu=700m,requests.cpu=700m"),
        Arguments.of("helpers.go: the largest init container wins over the app sum (max(2, 0.5+0.5) = 2)",
            pod("""
                initContainers:
                - {name: i1, image: i, resources: {requests: {cpu: "2"}}}
                - {name: i2, image: i, resources: {requests: {cpu: "1"}}}
                containers:
                - {name: a, image: i, resources: {requests: {cpu: 500m}}}
                - {name: b, image: i, resources: {requests: {cpu: 500m}}}
                """), "pods", "", "count/pods=1,pods=1,cpu=2,requests.cpu=2"),
        Arguments.of("helpers.go: the app sum wins over a smaller init container (max(700m, 400m+400m) = 800m)",
            pod("""
                initContainers:
                - {name: i1, image: i, resources: {requests: {cpu: 700m}}}
                containers:
                - {name: a, image: i, resources: {requests: {cpu: 400m}}}
                - {name: b, image: i, resources: {requests: {cpu: 400m}}}
                """), "pods", "", "count/pods=1,pods=1,cpu=800m,requests.cpu=800m"),
        Arguments.of("helpers.go: a sidecar before an init container runs with it (max(100m+500m, 100m+1) = 1100m)",
            pod("""
                initContainers:
                - {name: side, image: i, restartPolicy: Always, resources: {requests: {cpu: 100m}}}
                - {name: init, image: i, resources: {requests: {cpu: "1"}}}
                containers:
                - {name: a, image: i, resources: {requests: {cpu: 500m}}}
                """), "pods", "", "count/pods=1,pods=1,cpu=1100m,requests.cpu=1100m"),
        Arguments.of("helpers.go: a sidecar after an init container does not add to it (max(100m+500m, 1) = 1)",
            pod("""
                initContainers:
                - {name: init, image: i, resources: {requests: {cpu: "1"}}}
                - {name: side, image: i, restartPolicy: Always, resources: {requests: {cpu: 100m}}}
                containers:
                - {name: a, image: i, resources: {requests: {cpu: 500m}}}
                """), "pods", "", "count/pods=1,pods=1,cpu=1,requests.cpu=1"),
        Arguments.of("helpers.go: overhead is added to every request, and only to limits that are set",
            pod("""
                overhead: {cpu: 250m, memory: 64Mi}
                containers:
                - {name: a, image: i, resources: {requests: {cpu: 500m}, limits: {cpu: "1"}}}
                """), "pods", "",
            "count/pods=1,pods=1,cpu=750m,requests.cpu=750m,memory=64Mi,requests.memory=64Mi,limits.cpu=1250m"),
        Arguments.of("pods.go: ephemeral-storage, hugepages (both names) and extended resources (requests. only)",
            pod("""
                containers:
                - name: a
                  image: i
                  resources:
                    requests: {ephemeral-storage: 1Gi, hugepages-2Mi: 4Mi, nvidia.com/gpu: "1"}
                    limits: {ephemeral-storage: 2Gi, hugepages-2Mi: 4Mi, nvidia.com/gpu: "1"}
                """), "pods", "",
            "count/pods=1,pods=1,ephemeral-storage=1Gi,requests.ephemeral-storage=1Gi,limits.ephemeral-storage=2Gi,"
                + "hugepages-2Mi=4Mi,requests.hugepages-2Mi=4Mi,requests.nvidia.com/gpu=1"),
        Arguments.of("helpers.go applyPodLevelResources: pod-level requests replace the containers' cpu",
            pod("""
                resources: {requests: {cpu: "2"}}
                containers:
                - {name: a, image: i, resources: {requests: {cpu: 500m, memory: 1Gi}}}
                """), "pods", "",
            "count/pods=1,pods=1,cpu=2,requests.cpu=2,memory=1Gi,requests.memory=1Gi"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("charges")
  void chargesAtCreationWhatTheApiserverCharges(String source, GenericKubernetesResource object, String plural,
      String group, String expected) {
    assertThat(amounts(ObjectCost.atCreation(object, plural, group))).isEqualTo(amounts(expected));
  }

  @Test
  void cpuIsInMilliUnitsAndMemoryInPlainUnits() {
    var charge = ObjectCost.atCreation(pod("""
        containers:
        - {name: a, image: i, resources: {requests: {cpu: "1.5", memory: 1Ki}, limits: {cpu: "2"}}}
        """), "pods", "");
    assertThat(charge.get("requests.cpu").toString()).isEqualTo("1500m");
    assertThat(charge.get("limits.cpu").toString()).isEqualTo("2000m");
    assertThat(charge.get("requests.memory").toString()).isEqualTo("1024");
  }

  @Test
  void countResourceNameHasNoGroupForTheCoreGroup() { // generic.ObjectCountQuotaResourceNameFor
    assertThat(ObjectCost.countResourceName("pods", "")).isEqualTo("count/pods");
    assertThat(ObjectCost.countResourceName("pods", null)).isEqualTo("count/pods");
    assertThat(ObjectCost.countResourceName("workflows", "argoproj.io")).isEqualTo("count/workflows.argoproj.io");
  }
}
