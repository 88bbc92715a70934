package io.quotagate.cost;

import static io.quotagate.cost.Manifest.object;
import static io.quotagate.cost.Manifest.pod;
import static io.quotagate.cost.Manifest.quota;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Sources: generic = k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go ({@code Matches}: a tracked resource and
 * every scope; {@code MatchesNoScopeFunc} for the object-count evaluator); pods.go =
 * pkg/quota/v1/evaluator/core/pods.go ({@code podResources}, {@code MatchingResources}, {@code podMatchesScopeFunc},
 * {@code podMatchesSelector}, {@code usesCrossNamespacePodAffinity}); qos = pkg/apis/core/v1/helper/qos.
 */
class QuotaMatchingTest {

  private static final GenericKubernetesResource WORKFLOW =
      object("apiVersion: argoproj.io/v1alpha1\nkind: Workflow\nmetadata: {name: w}\n");
  private static final GenericKubernetesResource BEST_EFFORT = pod("containers: [{name: c, image: i}]");
  private static final GenericKubernetesResource BURSTABLE =
      pod("containers: [{name: c, image: i, resources: {requests: {cpu: 100m}}}]");
  private static final GenericKubernetesResource DEADLINE =
      pod("activeDeadlineSeconds: 60\ncontainers: [{name: c, image: i}]");
  private static final GenericKubernetesResource HIGH =
      pod("priorityClassName: high\ncontainers: [{name: c, image: i}]");
  private static final GenericKubernetesResource LOW = pod("priorityClassName: low\ncontainers: [{name: c, image: i}]");

  private static final String PODS = "hard: {pods: \"10\"}\n";

  private static String selector(String operator, String values) {
    return PODS + "scopeSelector: {matchExpressions: [{scopeName: PriorityClass, operator: " + operator
        + (values.isEmpty() ? "" : ", values: [" + values + "]") + "}]}\n";
  }

  static Stream<Arguments> cases() {
    return Stream.of(
        // which resources make a quota apply
        Arguments.of("generic: a quota on the object's count applies", "hard: {count/workflows.argoproj.io: \"5\"}",
            WORKFLOW, "workflows", "argoproj.io", true),
        Arguments.of("generic: a quota on other kinds only (configmaps) does not apply",
            "hard: {count/configmaps: \"5\", requests.cpu: \"4\"}", WORKFLOW, "workflows", "argoproj.io", false),
        Arguments.of("pods.go podResources: requests.cpu applies to a pod, even one charged no cpu",
            "hard: {requests.cpu: \"4\"}", BEST_EFFORT, "pods", "", true),
        Arguments.of("pods.go: a hugepages quota applies to a pod", "hard: {requests.hugepages-2Mi: 1Gi}",
            BEST_EFFORT, "pods", "", true),
        Arguments.of("pods.go isExtendedResourceNameForQuota: requests.nvidia.com/gpu applies to a pod",
            "hard: {requests.nvidia.com/gpu: \"2\"}", BEST_EFFORT, "pods", "", true),
        Arguments.of("pods.go: a quota on Jobs does not apply to a pod", "hard: {count/jobs.batch: \"2\"}",
            BEST_EFFORT, "pods", "", false),
        Arguments.of("registry.go: the legacy name configmaps applies to a ConfigMap", "hard: {configmaps: \"2\"}",
            object("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n"), "configmaps", "", true),
        // scopes on other kinds
        Arguments.of("generic MatchesNoScopeFunc: a scoped quota never applies to a Workflow",
            "hard: {count/workflows.argoproj.io: \"5\"}\nscopes: [NotBestEffort]", WORKFLOW, "workflows",
            "argoproj.io", false),
        // pod scopes
        Arguments.of("pods.go isTerminating: activeDeadlineSeconds >= 0 is Terminating", PODS + "scopes: [Terminating]",
            DEADLINE, "pods", "", true),
        Arguments.of("pods.go: no activeDeadlineSeconds is not Terminating", PODS + "scopes: [Terminating]",
            BEST_EFFORT, "pods", "", false),
        Arguments.of("pods.go: no activeDeadlineSeconds is NotTerminating", PODS + "scopes: [NotTerminating]",
            BEST_EFFORT, "pods", "", true),
        Arguments.of("qos: no cpu/memory requests or limits is BestEffort", PODS + "scopes: [BestEffort]",
            BEST_EFFORT, "pods", "", true),
        Arguments.of("qos: a cpu request is not BestEffort", PODS + "scopes: [BestEffort]", BURSTABLE, "pods", "",
            false),
        Arguments.of("qos: only ephemeral-storage is still BestEffort", PODS + "scopes: [BestEffort]",
            pod("containers: [{name: c, image: i, resources: {requests: {ephemeral-storage: 1Gi}}}]"), "pods", "",
            true),
        Arguments.of("qos: a cpu request in an init container is NotBestEffort", PODS + "scopes: [NotBestEffort]",
            pod("initContainers: [{name: i, image: i, resources: {requests: {cpu: 1m}}}]\n"
                + "containers: [{name: c, image: i}]"), "pods", "", true),
        Arguments.of("generic: every scope must match (Terminating and BestEffort, pod only BestEffort)",
            PODS + "scopes: [Terminating, BestEffort]", BEST_EFFORT, "pods", "", false),
        Arguments.of("pods.go: PriorityClass In [high] matches high", selector("In", "high"), HIGH, "pods", "", true),
        Arguments.of("pods.go: PriorityClass In [high] does not match low", selector("In", "high"), LOW, "pods", "",
            false),
        Arguments.of("pods.go podMatchesSelector: In [high] does not match a pod without a class",
            selector("In", "high"), BEST_EFFORT, "pods", "", false),
        Arguments.of("pods.go podMatchesSelector: NotIn [high] matches a pod without a class",
            selector("NotIn", "high"), BEST_EFFORT, "pods", "", true),
        Arguments.of("pods.go: NotIn [high] does not match high", selector("NotIn", "high"), HIGH, "pods", "", false),
        Arguments.of("pods.go: Exists does not match a pod without a class", selector("Exists", ""), BEST_EFFORT,
            "pods", "", false),
        Arguments.of("pods.go: Exists matches any class", selector("Exists", ""), LOW, "pods", "", true),
        Arguments.of("pods.go podMatchesSelector: DoesNotExist matches only a pod without a class",
            selector("DoesNotExist", ""), BEST_EFFORT, "pods", "", true),
        Arguments.of("pods.go: DoesNotExist does not match a pod with a class", selector("DoesNotExist", ""), HIGH,
            "pods", "", false),
        Arguments.of("pods.go: anti-affinity with namespaces is CrossNamespacePodAffinity",
            PODS + "scopes: [CrossNamespacePodAffinity]", pod("""
                affinity:
                  podAntiAffinity:
                    requiredDuringSchedulingIgnoredDuringExecution:
                    - {topologyKey: zone, namespaces: [other]}
                containers: [{name: c, image: i}]
                """), "pods", "", true),
        Arguments.of("pods.go: a preferred affinity term with a namespaceSelector is CrossNamespacePodAffinity",
            PODS + "scopes: [CrossNamespacePodAffinity]", pod("""
                affinity:
                  podAffinity:
                    preferredDuringSchedulingIgnoredDuringExecution:
                    - weight: 1
                      podAffinityTerm: {topologyKey: zone, namespaceSelector: {}}
                containers: [{name: c, image: i}]
                """), "pods", "", true),
        Arguments.of("pods.go: same-namespace affinity is not CrossNamespacePodAffinity",
            PODS + "scopes: [CrossNamespacePodAffinity]", pod("""
                affinity:
                  podAffinity:
                    requiredDuringSchedulingIgnoredDuringExecution:
                    - {topologyKey: zone}
                containers: [{name: c, image: i}]
                """), "pods", "", false));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("cases")
  void appliesAsTheApiserverDecides(String source, String quotaSpec, GenericKubernetesResource object,
      String plural, String group, boolean expected) {
    assertThat(QuotaMatching.applies(quota(quotaSpec), object, plural, group)).isEqualTo(expected);
  }
}
