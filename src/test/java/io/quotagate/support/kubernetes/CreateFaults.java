package io.quotagate.support.kubernetes;

import io.fabric8.kubernetes.api.model.Status;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Failures a test injects into creates (of anything but ResourceQuotas). One at a time: injecting one replaces the
 * one before, as {@link KubernetesApiEmulation#failCreates(int)} always did.
 *
 * <p>All of them stand for steps the real apiserver takes before ResourceQuota admission, the last admission
 * plugin (authorization, NamespaceLifecycle, validation, webhooks), so none of them charges the quota.
 */
final class CreateFaults {

  private enum Kind { STATUS, RBAC, NAMESPACE_TERMINATING, WEBHOOK }

  /** {@code remaining} below 0 means "until cleared". */
  private record Fault(Kind kind, int status, String webhook, String text, int remaining) {

    Fault used() {
      return remaining == 1 ? null : new Fault(kind, status, webhook, text, remaining - 1);
    }
  }

  private Fault fault; // guarded by this

  final AtomicLong rbacDenials = new AtomicLong();
  final AtomicLong namespaceTerminatingDenials = new AtomicLong();
  final AtomicLong webhookDenials = new AtomicLong();

  synchronized void failWithStatus(int status, int times) {
    fault = new Fault(Kind.STATUS, status, null, null, requireTimes(times));
  }

  synchronized void denyByRbac(int times) {
    fault = new Fault(Kind.RBAC, 403, null, null, requireTimes(times));
  }

  synchronized void denyAsNamespaceTerminating(int times) {
    fault = new Fault(Kind.NAMESPACE_TERMINATING, 403, null, null, requireTimes(times));
  }

  synchronized void denyByWebhook(String webhook, String text, int times) {
    fault = new Fault(Kind.WEBHOOK, 403, webhook, text, requireTimes(times));
  }

  synchronized void clear() {
    fault = null;
  }

  /**
   * The failure for this create, or {@code null} to go on. A dry run gets the same answer as a real create would,
   * but does not use up one of the fault's {@code times}: a product that probes with a dry run before it creates
   * must not spend the failures a test meant for its real creates.
   */
  synchronized Status failure(ApiPath target, ObjectMeta object, boolean dryRun) {
    Fault current = fault;
    if (current == null) {
      return null;
    }
    if (!dryRun && current.remaining() > 0) {
      fault = current.used();
    }
    return switch (current.kind()) {
      case STATUS -> ApiStatus.injected(current.status(), target, "create", object.name());
      case RBAC -> {
        rbacDenials.incrementAndGet();
        yield ApiStatus.rbacDenied(target, "create");
      }
      case NAMESPACE_TERMINATING -> {
        namespaceTerminatingDenials.incrementAndGet();
        yield ApiStatus.namespaceTerminating(target, ApiStatus.admissionName(object));
      }
      case WEBHOOK -> {
        webhookDenials.incrementAndGet();
        yield ApiStatus.webhookDenied(target, object.name(), current.webhook(), current.text());
      }
    };
  }

  private static int requireTimes(int times) {
    if (times == 0) {
      throw new IllegalArgumentException("times must be at least 1, or below 0 for until cleared");
    }
    return times;
  }
}
