package io.quotagate.cost;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;

/**
 * A pod's effective requests and limits, as k8s.io/component-helpers/resource/helpers.go computes them
 * ({@code PodRequests}, {@code PodLimits}, {@code aggregateContainerResourcesByFn}) for a pod being created (no
 * status, no resize, no DRA claims):
 * <ul>
 *   <li>the sum over app containers plus sidecars (init containers with {@code restartPolicy: Always});</li>
 *   <li>each regular init container counts with the sidecars declared before it, and the largest of those is the
 *       init peak; the pod takes, per resource, the larger of the sum and the init peak;</li>
 *   <li>pod-level {@code spec.resources} (PodLevelResources) replaces the aggregate for cpu, memory and
 *       hugepages-* ({@code applyPodLevelResources});</li>
 *   <li>{@code spec.overhead} is added to every request, and only to limits that are set and non-zero.</li>
 * </ul>
 */
final class PodResources {

  private PodResources() {
  }

  static Map<String, BigDecimal> requests(PodSpec pod) {
    Map<String, BigDecimal> requests = aggregate(pod, ResourceRequirements::getRequests);
    applyPodLevel(requests, pod.getResources() == null ? null : pod.getResources().getRequests());
    add(requests, pod.getOverhead());
    return requests;
  }

  static Map<String, BigDecimal> limits(PodSpec pod) {
    Map<String, BigDecimal> limits = aggregate(pod, ResourceRequirements::getLimits);
    applyPodLevel(limits, pod.getResources() == null ? null : pod.getResources().getLimits());
    if (pod.getOverhead() != null) {
      pod.getOverhead().forEach((name, quantity) -> {
        BigDecimal limit = limits.get(name);
        if (limit != null && limit.signum() != 0) {
          limits.put(name, limit.add(quantity.getNumericalAmount()));
        }
      });
    }
    return limits;
  }

  /**
   * QoS class BestEffort (pkg/apis/core/v1/helper/qos {@code GetPodQOS}): no container, init container or pod-level
   * resources request or limit a positive amount of cpu or memory.
   */
  static boolean isBestEffort(PodSpec pod) {
    for (Container container : containers(pod)) {
      ResourceRequirements resources = container.getResources();
      if (resources != null && (positiveCpuOrMemory(resources.getRequests())
          || positiveCpuOrMemory(resources.getLimits()))) {
        return false;
      }
    }
    ResourceRequirements podLevel = pod.getResources();
    return podLevel == null
        || !(positiveCpuOrMemory(podLevel.getRequests()) || positiveCpuOrMemory(podLevel.getLimits()));
  }

  private static Map<String, BigDecimal> aggregate(PodSpec pod,
      Function<ResourceRequirements, Map<String, Quantity>> which) {
    Map<String, BigDecimal> result = new TreeMap<>();
    for (Container container : nonNull(pod.getContainers())) {
      add(result, of(container, which));
    }
    Map<String, BigDecimal> sidecarsSoFar = new TreeMap<>();
    Map<String, BigDecimal> initPeak = new TreeMap<>();
    for (Container container : nonNull(pod.getInitContainers())) {
      Map<String, Quantity> own = of(container, which);
      Map<String, BigDecimal> whileRunning = new TreeMap<>();
      if ("Always".equals(container.getRestartPolicy())) {
        // A sidecar keeps running next to the app containers, and next to every init container after it.
        add(result, own);
        add(sidecarsSoFar, own);
        whileRunning.putAll(sidecarsSoFar);
      } else {
        add(whileRunning, own);
        sidecarsSoFar.forEach((name, amount) -> whileRunning.merge(name, amount, BigDecimal::add));
      }
      whileRunning.forEach((name, amount) -> initPeak.merge(name, amount, BigDecimal::max));
    }
    initPeak.forEach((name, amount) -> result.merge(name, amount, BigDecimal::max));
    return result;
  }

  private static void applyPodLevel(Map<String, BigDecimal> result, Map<String, Quantity> podLevel) {
    if (podLevel == null) {
      return;
    }
    podLevel.forEach((name, quantity) -> {
      if (name.equals("cpu") || name.equals("memory") || name.startsWith("hugepages-")) {
        result.put(name, quantity.getNumericalAmount());
      }
    });
  }

  private static Map<String, Quantity> of(Container container,
      Function<ResourceRequirements, Map<String, Quantity>> which) {
    Map<String, Quantity> quantities = container.getResources() == null ? null : which.apply(container.getResources());
    return quantities == null ? Map.of() : quantities;
  }

  private static void add(Map<String, BigDecimal> sum, Map<String, Quantity> quantities) {
    if (quantities != null) {
      quantities.forEach((name, quantity) -> sum.merge(name, quantity.getNumericalAmount(), BigDecimal::add));
    }
  }

  private static boolean positiveCpuOrMemory(Map<String, Quantity> quantities) {
    if (quantities == null) {
      return false;
    }
    return List.of("cpu", "memory").stream()
        .map(quantities::get)
        .anyMatch(q -> q != null && q.getNumericalAmount().signum() > 0);
  }

  private static List<Container> containers(PodSpec pod) {
    List<Container> all = new java.util.ArrayList<>(nonNull(pod.getContainers()));
    all.addAll(nonNull(pod.getInitContainers()));
    return all;
  }

  private static <T> List<T> nonNull(List<T> list) {
    return list == null ? List.of() : list;
  }
}
