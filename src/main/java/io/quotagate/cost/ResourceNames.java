package io.quotagate.cost;

/** Classes of resource names, as k8s.io/kubernetes/pkg/apis/core/v1/helper/helpers.go tells them apart. */
final class ResourceNames {

  private ResourceNames() {
  }

  /** {@code IsNativeResource}: no domain prefix, or a kubernetes.io one. */
  static boolean isNative(String name) {
    return !name.contains("/") || name.contains("kubernetes.io/");
  }

  /**
   * {@code IsExtendedResourceName}: a domain-prefixed name outside kubernetes.io, not already {@code requests.}
   * prefixed (e.g. {@code nvidia.com/gpu}); quota charges it only as {@code requests.<name>}.
   */
  static boolean isExtended(String name) {
    return !isNative(name) && !name.startsWith("requests.");
  }

  /** pods.go {@code isExtendedResourceNameForQuota}: {@code requests.nvidia.com/gpu}. */
  static boolean isExtendedForQuota(String name) {
    return !isNative(name) && name.startsWith("requests.");
  }

  static boolean isCpu(String name) {
    return name.equals("cpu") || name.equals("requests.cpu") || name.equals("limits.cpu");
  }
}
