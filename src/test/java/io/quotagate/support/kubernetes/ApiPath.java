package io.quotagate.support.kubernetes;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A resource URL of the Kubernetes API, split into the parts admission and the quota controller care about.
 *
 * @param group       API group, empty for the core group
 * @param version     API version
 * @param namespace   namespace, or {@code null} for a cluster-wide path
 * @param plural      resource (plural), e.g. {@code workflows}
 * @param name        object name, or {@code null} for a collection
 * @param subresource e.g. {@code /status}, or {@code null}
 */
record ApiPath(String group, String version, String namespace, String plural, String name, String subresource) {

  static final String RESOURCE_QUOTAS = "resourcequotas";

  private static final Pattern PATH = Pattern.compile(
      "/(?:api|apis/(?<group>[^/]+))/(?<version>[^/]+)(?:/namespaces/(?<namespace>[^/]+))?"
          + "/(?<plural>[^/]+)(?:/(?<name>[^/]+))?(?<subresource>/.+)?");

  /** Parses a request path (query string allowed); {@code null} when it is no resource path (discovery, /version). */
  static ApiPath parse(String requestPath) {
    Matcher m = PATH.matcher(withoutQuery(requestPath));
    if (!m.matches()) {
      return null;
    }
    String group = m.group("group");
    return new ApiPath(group == null ? "" : group, m.group("version"), m.group("namespace"), m.group("plural"),
        m.group("name"), m.group("subresource"));
  }

  static ApiPath ofQuota(String namespace, String name) {
    return new ApiPath("", "v1", namespace, RESOURCE_QUOTAS, name, null);
  }

  static String withoutQuery(String requestPath) {
    int query = requestPath.indexOf('?');
    return query < 0 ? requestPath : requestPath.substring(0, query);
  }

  /** The apiserver's name for the resource in messages and RBAC: {@code workflows.argoproj.io}, {@code pods}. */
  String groupResource() {
    return group.isEmpty() ? plural : plural + "." + group;
  }

  /** The object-count quota resource name, as in {@code count/workflows.argoproj.io} or {@code count/pods}. */
  String countResourceName() {
    return "count/" + groupResource();
  }

  boolean isResourceQuota() {
    return group.isEmpty() && RESOURCE_QUOTAS.equals(plural);
  }

  /** A POST of a new namespaced object (not a subresource such as pods/eviction). */
  boolean isNamespacedCollection() {
    return namespace != null && name == null;
  }

  ApiPath withName(String objectName) {
    return new ApiPath(group, version, namespace, plural, objectName, null);
  }

  String path() {
    StringBuilder path = new StringBuilder(group.isEmpty() ? "/api/" : "/apis/" + group + "/").append(version);
    if (namespace != null) {
      path.append("/namespaces/").append(namespace);
    }
    path.append('/').append(plural);
    if (name != null) {
      path.append('/').append(name);
    }
    if (subresource != null) {
      path.append(subresource);
    }
    return path.toString();
  }
}
