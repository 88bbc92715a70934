package io.quotagate.cost;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Collections;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * What ResourceQuota admission charges for an object at its creation, per quota resource name.
 *
 * <ul>
 *   <li>Any kind: {@code count/<plural>.<group>} ({@code count/<plural>} for the core group) = 1
 *       (k8s.io/apiserver/pkg/quota/v1/generic {@code ObjectCountQuotaResourceNameFor} and the object-count
 *       evaluator's {@code Usage}). A Job, a Workflow, a Deployment... are charged only that at creation: their pods
 *       are charged when a controller creates them.</li>
 *   <li>configmaps, secrets, replicationcontrollers, resourcequotas (core) are also charged their legacy unprefixed
 *       name (pkg/quota/v1/evaluator/core/registry.go {@code legacyObjectCountAliases}).</li>
 *   <li>A Pod (pkg/quota/v1/evaluator/core/pods.go {@code PodUsageFunc}, {@code podComputeUsageHelper}):
 *       {@code count/pods} and {@code pods} = 1; for cpu, memory and ephemeral-storage the pod's effective request
 *       as {@code requests.<r>} and as the unprefixed alias {@code <r>}, its effective limit as {@code limits.<r>};
 *       {@code hugepages-<size>} requests as both {@code hugepages-<size>} and {@code requests.hugepages-<size>};
 *       extended resources (a domain-prefixed name outside kubernetes.io) as {@code requests.<name>}. Effective
 *       requests and limits follow {@link PodResources}. A resource the pod does not request is not charged (not
 *       even 0). A pod is never terminal at its creation, so its compute resources are always charged.</li>
 * </ul>
 *
 * <p>Not covered: Services ({@code services.loadbalancers}, {@code services.nodeports}) and PersistentVolumeClaims
 * ({@code requests.storage}, per-storage-class names) have their own evaluators; here they are charged only their
 * object counts ({@code count/...} and the legacy {@code services}/{@code persistentvolumeclaims}).
 */
public final class ObjectCost {

  /**
   * Core kinds also charged a legacy unprefixed name: the first four by their object-count evaluator (registry.go
   * {@code legacyObjectCountAliases}), services and persistentvolumeclaims by their own evaluators.
   */
  private static final Set<String> LEGACY_COUNT_ALIASES = Set.of(
      "configmaps", "secrets", "replicationcontrollers", "resourcequotas", "services", "persistentvolumeclaims");
  private static final Set<String> COMPUTE = Set.of("cpu", "memory", "ephemeral-storage");

  private ObjectCost() {
  }

  /**
   * The charge, per resource name; quantities of cpu resources are in milli-units ({@code 500m}), others plain.
   *
   * @param group the API group, {@code ""} or {@code null} for the core group
   */
  public static Map<String, Quantity> atCreation(GenericKubernetesResource object, String plural, String group) {
    Map<String, BigDecimal> charge = new TreeMap<>();
    countNames(plural, group).forEach(name -> charge.put(name, BigDecimal.ONE));
    if (isPod(plural, group)) {
      charge.putAll(podCompute(Manifests.podSpec(object)));
    }
    Map<String, Quantity> result = new TreeMap<>();
    charge.forEach((name, amount) -> result.put(name, quantity(name, amount)));
    return Collections.unmodifiableMap(result);
  }

  /** True for the resources the apiserver keeps in milli-units (cpu, requests.cpu, limits.cpu). */
  public static boolean inMilliUnits(String resourceName) {
    return ResourceNames.isCpu(resourceName);
  }

  /** The object-count resource name: {@code count/<plural>.<group>}, {@code count/<plural>} for the core group. */
  public static String countResourceName(String plural, String group) {
    return isCore(group) ? "count/" + plural : "count/" + plural + "." + group;
  }

  /** The object-count names an object of this kind is charged 1 of: {@code count/...} and any legacy alias. */
  static Set<String> countNames(String plural, String group) {
    String count = countResourceName(plural, group);
    return isCore(group) && LEGACY_COUNT_ALIASES.contains(plural) ? Set.of(count, plural) : Set.of(count);
  }

  static boolean isPod(String plural, String group) {
    return isCore(group) && "pods".equals(plural);
  }

  static boolean isCore(String group) {
    return group == null || group.isEmpty();
  }

  /** pods.go {@code podComputeUsageHelper}, on the pod's effective requests and limits. */
  private static Map<String, BigDecimal> podCompute(PodSpec pod) {
    Map<String, BigDecimal> charge = new TreeMap<>();
    charge.put("pods", BigDecimal.ONE);
    Map<String, BigDecimal> requests = PodResources.requests(pod);
    Map<String, BigDecimal> limits = PodResources.limits(pod);
    for (String resource : COMPUTE) {
      BigDecimal request = requests.get(resource);
      if (request != null) {
        charge.put(resource, request);
        charge.put("requests." + resource, request);
      }
      BigDecimal limit = limits.get(resource);
      if (limit != null) {
        charge.put("limits." + resource, limit);
      }
    }
    requests.forEach((resource, request) -> {
      if (resource.startsWith("hugepages-")) {
        charge.put(resource, request);
        charge.put("requests." + resource, request);
      }
      if (ResourceNames.isExtended(resource)) {
        charge.put("requests." + resource, request);
      }
    });
    return charge;
  }

  static Quantity quantity(String resourceName, BigDecimal amount) {
    if (ResourceNames.isCpu(resourceName)) {
      // The apiserver keeps cpu in milli-units, rounding a finer amount up (resource.Quantity.MilliValue).
      return new Quantity(amount.movePointRight(3).setScale(0, RoundingMode.CEILING).toPlainString() + "m");
    }
    BigDecimal plain = amount.stripTrailingZeros();
    return new Quantity((plain.scale() < 0 ? plain.setScale(0) : plain).toPlainString());
  }
}
