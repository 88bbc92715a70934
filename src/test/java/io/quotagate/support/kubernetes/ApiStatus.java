package io.quotagate.support.kubernetes;

import java.util.Map;

import io.fabric8.kubernetes.api.model.Status;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.StatusCauseBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.fabric8.mockwebserver.http.MockResponse;
import java.util.List;

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

  /**
   * Several resources of one quota, worded as plugin/pkg/admission/resourcequota/controller.go words it: each list
   * sorted by resource name, {@code name=amount} joined by commas ({@code prettyPrint}).
   */
  static Status exceededQuota(ApiPath target, String objectName, String quota, Map<String, String> requested,
      Map<String, String> used, Map<String, String> limited) {
    String message = String.format("%s \"%s\" is forbidden: exceeded quota: %s, requested: %s, used: %s, limited: %s",
        target.groupResource(), objectName, quota, prettyPrint(requested), prettyPrint(used), prettyPrint(limited));
    return failure(403, "Forbidden", message, target, objectName);
  }

  private static String prettyPrint(Map<String, String> amounts) {
    return new java.util.TreeMap<>(amounts).entrySet().stream()
        .map(e -> e.getKey() + "=" + e.getValue())
        .collect(java.util.stream.Collectors.joining(","));
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

  /**
   * What the RBAC authorizer's denial of a create looks like (apiserver endpoints/handlers/responsewriters): a create
   * is authorized before its object is read, so the message names no object, and neither do the details.
   */
  static Status rbacDenied(ApiPath target, String verb) {
    String message = String.format(
        "%s is forbidden: User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the namespace \"%s\"",
        target.groupResource(), serviceAccount(target.namespace()), verb, target.plural(), target.group(),
        target.namespace());
    return failure(403, "Forbidden", message, target, null);
  }

  /** What the NamespaceLifecycle admission plugin answers a create in a namespace that is being deleted. */
  static Status namespaceTerminating(ApiPath target, String admissionName) {
    String message = String.format(
        "%s \"%s\" is forbidden: unable to create new content in namespace %s because it is being terminated",
        target.groupResource(), admissionName, target.namespace());
    Status status = failure(403, "Forbidden", message, target, admissionName);
    status.getDetails().setCauses(List.of(new StatusCauseBuilder()
        .withReason("NamespaceTerminating")
        .withMessage("namespace " + target.namespace() + " is being terminated")
        .withField("metadata.namespace")
        .build()));
    return status;
  }

  /**
   * A validating webhook's denial that carries a message but no code, as the apiserver passes it on
   * (admission/plugin/webhook/errors.ToStatusErr): code 403, reason Forbidden, and the webhook's words prefixed with
   * the object, named as the request named it ("Unknown" for a generateName create).
   */
  static Status webhookDenied(ApiPath target, String requestName, String webhook, String text) {
    String name = requestName == null || requestName.isEmpty() ? "Unknown" : requestName;
    String message = String.format("%s \"%s\" is forbidden: admission webhook \"%s\" denied the request: %s",
        target.groupResource(), name, webhook, text);
    return failure(403, "Forbidden", message, target, name);
  }

  /** The apiserver's answer to a create without a name (apimachinery ValidateObjectMeta), as a dry run gets it. */
  static Status nameRequired(ApiPath target, String kind) {
    String groupKind = target.group().isEmpty() ? kind : kind + "." + target.group();
    String message = groupKind + " \"\" is invalid: metadata.name: Required value: name or generateName is required";
    Status status = failure(422, "Invalid", message, target, "");
    status.getDetails().setKind(kind);
    status.getDetails().setCauses(List.of(new StatusCauseBuilder()
        .withReason("FieldValueRequired")
        .withMessage("Required value: name or generateName is required")
        .withField("metadata.name")
        .build()));
    return status;
  }

  /**
   * The admission name of an object (apiserver admission.extractResourceName): its name, else its generateName,
   * else "Unknown"; the name is generated only after mutating admission.
   */
  static String admissionName(ObjectMeta object) {
    if (object.name() != null && !object.name().isEmpty()) {
      return object.name();
    }
    return object.generateName() != null && !object.generateName().isEmpty() ? object.generateName() : "Unknown";
  }

  private static String serviceAccount(String namespace) {
    return "system:serviceaccount:" + namespace + ":quotagate";
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
