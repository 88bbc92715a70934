package io.quotagate.cost;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodAffinityTerm;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.api.model.ScopedResourceSelectorRequirement;
import io.fabric8.kubernetes.api.model.WeightedPodAffinityTerm;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which ResourceQuotas the apiserver's quota admission applies to an object, as
 * k8s.io/apiserver/pkg/quota/v1/generic/evaluator.go {@code Matches} decides: the quota tracks at least one resource
 * the object's evaluator tracks ({@code MatchingResources}) <em>and</em> every one of its scopes matches the object.
 *
 * <p>Scopes ({@code spec.scopes}, each as an {@code Exists} requirement, and {@code spec.scopeSelector}, per
 * {@code getScopeSelectorsFromQuota}) are matched only for Pods (pods.go {@code podMatchesScopeFunc}). For every other
 * kind the object-count evaluator's scope function is {@code MatchesNoScopeFunc}, which matches nothing: a quota
 * with any scope never applies to a Workflow, a Job, a ConfigMap...
 *
 * <p>Where this differs: the apiserver reads the tracked resources from {@code status.hard} (and refuses the create
 * while a matching quota has no status yet); here {@code spec.hard} is read, since the controller copies it soon.
 */
public final class QuotaMatching {

  /** pods.go {@code podResources}: the names the pod evaluator tracks, besides the prefixed ones below. */
  private static final Set<String> POD_RESOURCES = Set.of("count/pods", "cpu", "memory", "ephemeral-storage",
      "requests.cpu", "requests.memory", "requests.ephemeral-storage", "limits.cpu", "limits.memory",
      "limits.ephemeral-storage", "pods");

  private QuotaMatching() {
  }

  /** Whether admission checks {@code quota} for the creation of {@code object}. */
  public static boolean applies(ResourceQuota quota, GenericKubernetesResource object, String plural, String group) {
    return tracksAny(quota, plural, group) && scopesMatch(quota, object, plural, group);
  }

  /** Whether {@code quota} lists a resource the object's evaluator tracks (its {@code MatchingResources}). */
  public static boolean tracksAny(ResourceQuota quota, String plural, String group) {
    Map<String, Quantity> hard = quota.getSpec() == null ? null : quota.getSpec().getHard();
    if (hard == null) {
      return false;
    }
    return hard.keySet().stream().anyMatch(name -> tracks(name, plural, group));
  }

  /**
   * Whether the object's evaluator tracks the quota resource {@code name}: an object of this kind may be charged it
   * (a Pod any compute resource its spec could request, any kind its object counts), whether or not a given object
   * of it is.
   */
  public static boolean tracks(String name, String plural, String group) {
    if (ObjectCost.isPod(plural, group)) {
      return POD_RESOURCES.contains(name) || name.startsWith("hugepages-") || name.startsWith("requests.hugepages-")
          || ResourceNames.isExtendedForQuota(name);
    }
    return ObjectCost.countNames(plural, group).contains(name);
  }

  /** Whether every scope of {@code quota} matches the object; a quota without scopes matches every object. */
  public static boolean scopesMatch(ResourceQuota quota, GenericKubernetesResource object, String plural,
      String group) {
    List<ScopedResourceSelectorRequirement> scopes = scopes(quota);
    if (scopes.isEmpty()) {
      return true;
    }
    if (!ObjectCost.isPod(plural, group)) {
      return false; // generic.MatchesNoScopeFunc
    }
    PodSpec pod = Manifests.podSpec(object);
    return scopes.stream().allMatch(scope -> podMatches(scope, pod));
  }

  private static List<ScopedResourceSelectorRequirement> scopes(ResourceQuota quota) {
    List<ScopedResourceSelectorRequirement> scopes = new ArrayList<>();
    if (quota.getSpec() == null) {
      return scopes;
    }
    if (quota.getSpec().getScopes() != null) {
      quota.getSpec().getScopes().forEach(scope ->
          scopes.add(new ScopedResourceSelectorRequirement("Exists", scope, List.of())));
    }
    if (quota.getSpec().getScopeSelector() != null && quota.getSpec().getScopeSelector().getMatchExpressions() != null) {
      scopes.addAll(quota.getSpec().getScopeSelector().getMatchExpressions());
    }
    return scopes;
  }

  /** pods.go {@code podMatchesScopeFunc}; an unknown scope name matches nothing. */
  private static boolean podMatches(ScopedResourceSelectorRequirement scope, PodSpec pod) {
    return switch (String.valueOf(scope.getScopeName())) {
      case "Terminating" -> isTerminating(pod);
      case "NotTerminating" -> !isTerminating(pod);
      case "BestEffort" -> PodResources.isBestEffort(pod);
      case "NotBestEffort" -> !PodResources.isBestEffort(pod);
      case "PriorityClass" -> priorityClassMatches(scope, pod.getPriorityClassName());
      case "CrossNamespacePodAffinity" -> usesCrossNamespacePodAffinity(pod);
      default -> false;
    };
  }

  /** pods.go {@code isTerminating}: {@code activeDeadlineSeconds >= 0}. */
  private static boolean isTerminating(PodSpec pod) {
    return pod.getActiveDeadlineSeconds() != null && pod.getActiveDeadlineSeconds() >= 0;
  }

  /**
   * pods.go: {@code Exists} means a priority class is set; otherwise a label selector over the one-label set
   * {@code PriorityClass=<name>}, which is empty when the pod has none ({@code podMatchesSelector}), so
   * {@code NotIn} matches a pod without a priority class and {@code DoesNotExist} matches only such a pod.
   */
  private static boolean priorityClassMatches(ScopedResourceSelectorRequirement scope, String priorityClassName) {
    boolean has = priorityClassName != null && !priorityClassName.isEmpty();
    List<String> values = scope.getValues() == null ? List.of() : scope.getValues();
    return switch (String.valueOf(scope.getOperator())) {
      case "Exists" -> has;
      case "DoesNotExist" -> !has;
      case "In" -> has && values.contains(priorityClassName);
      case "NotIn" -> !has || !values.contains(priorityClassName);
      default -> false;
    };
  }

  /** pods.go {@code usesCrossNamespacePodAffinity}: a (anti-)affinity term with namespaces or a namespaceSelector. */
  private static boolean usesCrossNamespacePodAffinity(PodSpec pod) {
    if (pod.getAffinity() == null) {
      return false;
    }
    List<PodAffinityTerm> terms = new ArrayList<>();
    if (pod.getAffinity().getPodAffinity() != null) {
      terms.addAll(nonNull(pod.getAffinity().getPodAffinity().getRequiredDuringSchedulingIgnoredDuringExecution()));
      weighted(terms, pod.getAffinity().getPodAffinity().getPreferredDuringSchedulingIgnoredDuringExecution());
    }
    if (pod.getAffinity().getPodAntiAffinity() != null) {
      terms.addAll(nonNull(
          pod.getAffinity().getPodAntiAffinity().getRequiredDuringSchedulingIgnoredDuringExecution()));
      weighted(terms, pod.getAffinity().getPodAntiAffinity().getPreferredDuringSchedulingIgnoredDuringExecution());
    }
    return terms.stream().anyMatch(term ->
        (term.getNamespaces() != null && !term.getNamespaces().isEmpty()) || term.getNamespaceSelector() != null);
  }

  private static void weighted(List<PodAffinityTerm> into, List<WeightedPodAffinityTerm> terms) {
    nonNull(terms).stream().map(WeightedPodAffinityTerm::getPodAffinityTerm)
        .filter(java.util.Objects::nonNull).forEach(into::add);
  }

  private static <T> List<T> nonNull(List<T> list) {
    return list == null ? List.of() : list;
  }
}
