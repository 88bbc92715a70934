package io.quotagate.support.kubernetes;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.http.MockResponse;

/**
 * {@code Status} bodies worded like the real apiserver's, because callers (QuotaGate included) classify errors
 * by {@code reason} and message, not only by HTTP code.
 */
final class ApiStatus {

  static final String INJECTED = "injected by KubernetesApiEmulation";
  private static final String SERVICE_ACCOUNT = "system:serviceaccount:default:quotagate";

  private ApiStatus() {
  }

  static MockResponse response(Status status) {
    return new MockResponse()
        .setResponseCode(status.getCode())
        .setHeader("Content-Type", "application/json")
        .setBody(Serialization.asJson(status));
  }

  /** What the ResourceQuota admission plugin answers (k8s.io/apiserver/pkg/admission/plugin/resourcequota). */
  static Status exceededQuota(ApiPath target, String objectName, String quota, String resource, long used,
      long hard) {
    String message = String.format(
        "%s \"%s\" is forbidden: exceeded quota: %s, requested: %s=1, used: %s=%d, limited: %s=%d",
        target.groupResource(), objectName, quota, resource, resource, used, resource, hard);
    return failure(403, "Forbidden", message, target, objectName);
  }

  static Status alreadyExists(ApiPath target, String objectName) {
    String message = String.format("%s \"%s\" already exists", target.groupResource(), objectName);
    return failure(409, "AlreadyExists", message, target, objectName);
  }

  /** A fault a test asked for; a 403 is worded like an RBAC denial, the usual cause of a 403 on a read. */
  static Status injected(int code, ApiPath target, String verb, String objectName) {
    String name = objectName == null ? "" : objectName;
    String message = switch (code) {
      case 403 -> String.format("%s%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\"%s",
          target.groupResource(), name.isEmpty() ? "" : " \"" + name + "\"", SERVICE_ACCOUNT, verb, target.plural(),
          target.group(), target.namespace() == null ? "" : " in the namespace \"" + target.namespace() + "\"");
      case 422 -> String.format("%s \"%s\" is invalid: spec: Invalid value: %s", target.groupResource(), name,
          INJECTED);
      case 500 -> "Internal error occurred: " + INJECTED;
      default -> INJECTED;
    };
    return failure(code, reasonFor(code), message, target, name);
  }

  private static Status failure(int code, String reason, String message, ApiPath target, String objectName) {
    return new StatusBuilder()
        .withStatus("Failure")
        .withMessage(message)
        .withReason(reason)
        .withNewDetails()
        .withName(objectName)
        .withGroup(target.group().isEmpty() ? null : target.group())
        .withKind(target.plural())
        .endDetails()
        .withCode(code)
        .build();
  }

  private static String reasonFor(int code) {
    return switch (code) {
      case 400 -> "BadRequest";
      case 401 -> "Unauthorized";
      case 403 -> "Forbidden";
      case 404 -> "NotFound";
      case 409 -> "Conflict";
      case 410 -> "Expired";
      case 422 -> "Invalid";
      case 429 -> "TooManyRequests";
      case 500 -> "InternalError";
      case 503 -> "ServiceUnavailable";
      case 504 -> "Timeout";
      default -> "";
    };
  }
}
