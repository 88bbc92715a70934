package io.quotagate.support.kubernetes;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.PriorityQueue;
import java.util.Set;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * When kube-controller-manager's ResourceQuota controller recounts, and what it has seen when it does.
 *
 * <p>Like the real one (pkg/controller/resourcequota), it recounts a quota from the stored objects, never by
 * increments: when it observes the delete of an object a quota counts (replenishment), on a change of the quota's
 * {@code spec.hard}, and on a periodic full resync of every quota ({@code --resource-quota-sync-period}, 5 min).
 * It does <em>not</em> recount when only a quota's status changed: so a charge that admission made for a create
 * that then failed to store (409 AlreadyExists) stays in {@code used} until one of those happens.
 *
 * <p>The controller sees a delete only {@code lag} after it happened (informer delivery, work queue, status write).
 * Until then a recount still counts the deleted object, so a recount for one delete never gives back another delete's
 * usage early. Recounts of a namespace are at least {@link #MIN_RECOUNT_SPACING} apart, so a stream of deletes costs
 * a bounded number of scans of the stored objects, at the price of a delete being seen up to that much later.
 *
 * <p>Where it still differs: the real controller reads objects from informer caches that can lag behind admission,
 * so a recount racing a create can briefly count one object too few; here admission and recount are serialised and
 * never race.
 *
 * <p>Every method but {@link #setResync(Duration)} must be called holding the dispatcher's {@code writes} lock.
 */
final class QuotaController {

  /** Recounts, called holding the dispatcher's {@code writes} lock. */
  interface Recounter {

    /** Recounts every quota in {@code namespace} that limits one of {@code resources}. */
    void recount(String namespace, Set<String> resources);

    /** Recounts every quota. */
    void recountAll();
  }

  static final Duration DEFAULT_RESYNC = Duration.ofMinutes(5);
  static final Duration MIN_RECOUNT_SPACING = QuotaEnforcingDispatcher.STATUS_WRITE_DELAY;

  private static final Logger log = LoggerFactory.getLogger(QuotaController.class);

  /**
   * An object that left the store, or a pod that became terminal ({@code stillStored}: it still counts in
   * {@code count/pods}, and only its other usage is going): {@code resources} are the quota resources it was charged
   * (a recount of quotas listing any of them is due); {@code object} is kept for a pod, whose usage a recount
   * computes from it.
   */
  record Deleted(String plural, String group, GenericKubernetesResource object, Set<String> resources,
      boolean stillStored) {
  }

  private record UnobservedDelete(Deleted object, long observedAtNanos) {
  }

  private final ScheduledExecutorService executor;
  private final Object writes;
  private final Recounter recounter;
  /** Deletes the controller has not seen yet, by namespace, soonest seen first. */
  private final Map<String, PriorityQueue<UnobservedDelete>> unobserved = new HashMap<>();
  /** When the next recount of a namespace is due (System.nanoTime), if one is scheduled. */
  private final Map<String, Long> recountAt = new HashMap<>();
  private ScheduledFuture<?> resync; // guarded by this
  volatile Duration lag = KubernetesApiEmulation.DEFAULT_QUOTA_CONTROLLER_LAG;

  QuotaController(ScheduledExecutorService executor, Object writes, Recounter recounter) {
    this.executor = executor;
    this.writes = writes;
    this.recounter = recounter;
  }

  /** An object left the store; with no lag the recount is done before this returns. */
  void deleted(String namespace, Deleted object) {
    Duration currentLag = lag;
    if (currentLag.isZero()) {
      recounter.recount(namespace, object.resources());
      return;
    }
    long observedAt = System.nanoTime() + currentLag.toNanos();
    unobserved.computeIfAbsent(namespace,
            n -> new PriorityQueue<>(Comparator.comparingLong(UnobservedDelete::observedAtNanos)))
        .add(new UnobservedDelete(object, observedAt));
    scheduleRecount(namespace, observedAt);
  }

  /** Deleted objects a recount made now still counts: the controller has not seen them go. */
  List<Deleted> unobservedDeletes(String namespace) {
    PriorityQueue<UnobservedDelete> deletes = unobserved.get(namespace);
    if (deletes == null) {
      return List.of();
    }
    long now = System.nanoTime();
    return deletes.stream().filter(d -> d.observedAtNanos() > now).map(UnobservedDelete::object).toList();
  }

  /** Every {@code period} all quotas are recounted; {@link Duration#ZERO} turns it off. */
  synchronized void setResync(Duration period) {
    if (resync != null) {
      resync.cancel(false);
      resync = null;
    }
    if (!period.isZero()) {
      resync = executor.scheduleWithFixedDelay(() -> logFailure(() -> {
        synchronized (writes) {
          recounter.recountAll();
        }
      }), period.toNanos(), period.toNanos(), TimeUnit.NANOSECONDS);
    }
  }

  private void scheduleRecount(String namespace, long atNanos) {
    Long scheduled = recountAt.get(namespace);
    if (scheduled != null && scheduled <= atNanos) {
      return; // that recount schedules the next one for whatever it has not seen yet
    }
    recountAt.put(namespace, atNanos);
    try {
      executor.schedule(() -> logFailure(() -> recountWhenDue(namespace, atNanos)),
          Math.max(0, atNanos - System.nanoTime()), TimeUnit.NANOSECONDS);
    } catch (RejectedExecutionException closing) {
      recountAt.remove(namespace); // the emulation is shutting down
    }
  }

  private void recountWhenDue(String namespace, long scheduledFor) {
    synchronized (writes) {
      Long due = recountAt.get(namespace);
      if (due == null || due != scheduledFor) {
        return; // replaced by an earlier recount (the lag was shortened)
      }
      recountAt.remove(namespace);
      long now = System.nanoTime();
      PriorityQueue<UnobservedDelete> deletes = unobserved.getOrDefault(namespace, new PriorityQueue<>());
      Set<String> seen = new HashSet<>();
      while (!deletes.isEmpty() && deletes.peek().observedAtNanos() <= now) {
        seen.addAll(deletes.poll().object().resources());
      }
      if (deletes.isEmpty()) {
        unobserved.remove(namespace);
      }
      if (!seen.isEmpty()) {
        recounter.recount(namespace, seen);
      }
      if (!deletes.isEmpty()) {
        scheduleRecount(namespace, Math.max(deletes.peek().observedAtNanos(), now + MIN_RECOUNT_SPACING.toNanos()));
      }
    }
  }

  private static void logFailure(Runnable task) {
    try {
      task.run();
    } catch (RuntimeException e) {
      log.warn("Emulated quota controller task failed", e);
    }
  }
}
