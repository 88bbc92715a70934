package io.quotagate.quota;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.GateState;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.context.SmartLifecycle;

/**
 * Keeps the {@link CapacityGate} current: reads the ResourceQuota on a schedule and whenever the
 * quota changes (an informer's watch events). Events only trigger a read; the read itself is a
 * fresh GET taken after {@link CapacityGate#beginRead()}, because a watch event may describe the
 * quota before our latest creates while a GET sent after them cannot.
 *
 * <p>All reads run on one thread, so requests coalesce: a burst of events costs one or two reads.
 *
 * <p>While the quota has room for whole batches, every create of ours changes the quota and brings a watch event;
 * reading on each would cost the apiserver one GET per message. So an event is read at once only when the gate
 * {@linkplain CapacityGate#wantsFreshRead() wants it} (closed, unknown, or short of a full batch: that is when a
 * freed unit must be seen at once); otherwise it is remembered and read when the fetch loop next asks the gate for
 * permits — at most one read per fetched batch while flowing, and never a stale decision that a read could change.
 * The scheduled poll (the safety net for a watch that silently stopped) runs one poll-interval after the latest
 * read, so no read is ever older than poll-interval and a flowing consumer pays no extra polls.
 *
 * <p>At the edge (the gate full or short of two batches, its quota known and its permits not revoked) each freed
 * slot is an event that matters, but reading on each would cost a GET per object again. There an event, a fetch's
 * deferred read or the gate's request after its last in-flight create is read no sooner than {@link EdgeReadSpacing}
 * allows after the previous read started: a spacing that follows the observed rate of freed slots, so a flood is
 * batched and a trickle is read at once. Reads that make the gate usable again are never spaced: after a 403
 * "exceeded quota", while the quota is unknown, while the gate is paused or forbidden (all of them revoke its
 * permits), or while it is not at the edge.
 */
public class QuotaMonitor implements SmartLifecycle {

    private static final Logger log = LoggerFactory.getLogger(QuotaMonitor.class);
    private static final Duration MAX_RETRY_DELAY = Duration.ofSeconds(10);

    private final KubernetesClient client;
    private final BackpressureProperties properties;
    private final String namespace;
    private final CapacityGate gate;
    private final boolean watch;
    private final AtomicBoolean readRequested = new AtomicBoolean();
    /** A watch event arrived that no read started since covers. */
    private final AtomicBoolean changePending = new AtomicBoolean();
    /** A spaced read is scheduled ({@link #edgeReadDue}). */
    private final AtomicBoolean edgeReadScheduled = new AtomicBoolean();
    private final EdgeReadSpacing spacing;
    private final QuotaReader reader;
    private final AtomicLong readsOk = new AtomicLong();
    private final AtomicLong readsFailed = new AtomicLong();
    private volatile ScheduledExecutorService executor;
    /** One per named quota (a watch pinned to its name), or one for the namespace with {@code quota-names: ["*"]}. */
    private final List<SharedIndexInformer<ResourceQuota>> informers = new CopyOnWriteArrayList<>();
    private volatile ScheduledFuture<?> retry;
    /** The next scheduled poll; only touched on the executor's thread. */
    private ScheduledFuture<?> nextPoll;
    private volatile boolean running;
    private int consecutiveFailures;
    private String lastLoggedError;

    public QuotaMonitor(KubernetesClient client, BackpressureProperties properties, String namespace, CapacityGate gate) {
        this(client, properties, namespace, gate, true);
    }

    /**
     * @param watch false: no informer, only the scheduled poll (as the original sensor did)
     */
    public QuotaMonitor(KubernetesClient client, BackpressureProperties properties, String namespace, CapacityGate gate,
                        boolean watch) {
        this(client, properties, namespace, gate, watch, new EdgeReadSpacing());
    }

    QuotaMonitor(KubernetesClient client, BackpressureProperties properties, String namespace, CapacityGate gate,
                 boolean watch, EdgeReadSpacing spacing) {
        this(client, properties, namespace, gate, watch, spacing, null);
    }

    /**
     * @param charge what the template's object is charged, for an empty {@code backpressure.resource-name}; asked on
     *               the first read (it may need API discovery), null when unknown
     */
    public QuotaMonitor(KubernetesClient client, BackpressureProperties properties, String namespace, CapacityGate gate,
                        Supplier<TemplateCharge> charge) {
        this(client, properties, namespace, gate, true, new EdgeReadSpacing(), charge);
    }

    QuotaMonitor(KubernetesClient client, BackpressureProperties properties, String namespace, CapacityGate gate,
                 boolean watch, EdgeReadSpacing spacing, Supplier<TemplateCharge> charge) {
        this.spacing = spacing;
        this.watch = watch;
        this.client = client;
        this.properties = properties;
        this.namespace = namespace;
        this.gate = gate;
        this.reader = new QuotaReader(client, properties, namespace, gate, readsOk, readsFailed, charge);
    }

    public String namespace() {
        return namespace;
    }

    public long readsOk() {
        return readsOk.get();
    }

    public long readsFailed() {
        return readsFailed.get();
    }

    /** How long after a read started the next may start while the gate is at the edge (see {@link EdgeReadSpacing}). */
    public Duration edgeSpacing() {
        return spacing.spacing();
    }

    /** Freed quota slots per second, as the reads last measured them. */
    public double freedPerSecond() {
        return spacing.freedPerSecond();
    }

    /** True while the informers' watches on the quotas are established. */
    public boolean watching() {
        return !informers.isEmpty() && informers.stream().allMatch(SharedIndexInformer::isWatching);
    }

    @Override
    public void start() {
        if (!properties.quotaEnabled()) {
            running = true;
            if (!properties.gateEnabled()) {
                log.info("No backpressure.quota-name set: the consumer runs ungated");
            }
            return;
        }
        executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "quota-monitor");
            t.setDaemon(true);
            return t;
        });
        running = true;
        gate.expect(properties.quotas());
        gate.onRefreshNeeded(this::refreshNeeded);
        gate.onAcquire(this::readIfChanged);
        requestRead();
        if (watch) {
            if (properties.everyQuota()) {
                startInformer(null);
            } else {
                properties.quotas().forEach(this::startInformer);
            }
        }
        log.info("Watching ResourceQuota {}/{} for {} (capacity-ratio {}, poll every {}s, fail-mode {})",
                namespace, properties.everyQuota() ? "*" : String.join(",", properties.quotas()),
                properties.resourceName(), properties.capacityRatio(),
                properties.pollInterval().toSeconds(), properties.failMode().name().toLowerCase());
    }

    /** @param name the quota to watch, null for every quota in the namespace */
    private void startInformer(String name) {
        try {
            SharedIndexInformer<ResourceQuota> i = name == null
                    ? client.resourceQuotas().inNamespace(namespace).runnableInformer(0)
                    : client.resourceQuotas().inNamespace(namespace).withName(name).runnableInformer(0);
            i.addEventHandler(new ResourceEventHandler<>() {
                @Override
                public void onAdd(ResourceQuota obj) {
                    quotaAddedOrDeleted(name == null);
                }

                @Override
                public void onUpdate(ResourceQuota oldObj, ResourceQuota newObj) {
                    quotaChanged();
                }

                @Override
                public void onDelete(ResourceQuota obj, boolean deletedFinalStateUnknown) {
                    quotaAddedOrDeleted(name == null);
                }
            });
            // Keep retrying through apiserver outages; the scheduled poll covers the gap meanwhile.
            i.exceptionHandler((started, t) -> running);
            informers.add(i);
            i.start().whenComplete((v, t) -> {
                if (t != null && running) {
                    log.warn("Quota watch could not start ({}); relying on polling every {}s",
                            t.getMessage(), properties.pollInterval().toSeconds());
                }
            });
        } catch (RuntimeException e) {
            log.warn("Quota watch could not start ({}); relying on polling every {}s",
                    e.getMessage(), properties.pollInterval().toSeconds());
        }
    }

    /**
     * With {@code quota-names: ["*"]} a quota created or deleted adds or removes a limit, which our own creates never
     * do: read it at once (spaced at the edge like any read). Named quotas come and go only by mistake; their events
     * are read as any change.
     */
    private void quotaAddedOrDeleted(boolean everyQuota) {
        if (!everyQuota) {
            quotaChanged();
            return;
        }
        changePending.set(true);
        readWhenDue();
    }

    /** A watch event: read soon if the gate's decision may depend on it, else at the next fetch. */
    void quotaChanged() {
        changePending.set(true);
        if (gate.wantsFreshRead()) {
            readWhenDue();
        }
    }

    /** On the fetch thread before each acquire: one read for whatever changed since the last read started. */
    private void readIfChanged() {
        if (changePending.get()) {
            readWhenDue();
        }
    }

    /**
     * The gate asks for a read: after a 403 "exceeded quota" (its permits are revoked until a read started after
     * it), or when its last in-flight create resolved while our unobserved creates keep it closed. The first is
     * what makes the gate usable again and is read at once; the second only stands in for an event that may not
     * come, so it is spaced like one. Public for the active limit's monitor, which takes over the gate's single
     * refresh requester and runs this one too.
     */
    public void refreshNeeded() {
        if (gate.permitsRevoked()) {
            requestRead();
        } else {
            changePending.set(true);
            readWhenDue();
        }
    }

    /** Reads now, or at the edge no sooner than the spacing after the previous read started. */
    private void readWhenDue() {
        long wait = atEdge() ? spacing.waitNanos() : 0;
        if (wait <= 0) {
            requestRead();
            return;
        }
        ScheduledExecutorService ex = executor;
        if (ex != null && running && edgeReadScheduled.compareAndSet(false, true)) {
            try {
                ex.schedule(this::edgeReadDue, wait, TimeUnit.NANOSECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                edgeReadScheduled.set(false);
            }
        }
    }

    /** A spaced read's time came: read unless a read started since covers what was pending. */
    private void edgeReadDue() {
        edgeReadScheduled.set(false);
        if (changePending.get()) {
            readWhenDue();
        }
    }

    /**
     * Full or near-full with a known quota and usable permits: where freed slots decide and reads are spaced.
     * Not while the gate is closed for any other reason (its permits are revoked then) or the quota is unknown.
     */
    private boolean atEdge() {
        if (!gate.wantsFreshRead() || gate.permitsRevoked()) {
            return false;
        }
        GateState s = gate.state();
        return s.hard() >= 0 && s.lastError() == null;
    }

    /** Asks for a fresh read as soon as possible; requests made while one is queued coalesce. */
    public void requestRead() {
        ScheduledExecutorService ex = executor;
        if (ex != null && running && readRequested.compareAndSet(false, true)) {
            try {
                ex.execute(this::readNow);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                readRequested.set(false);
            }
        }
    }

    private void readNow() {
        readRequested.set(false);
        // This read starts after every event seen so far, so it covers them.
        changePending.set(false);
        // The poll is a safety net for missed watch events: one poll-interval after the latest read, not on a
        // fixed beat that would add reads while events already keep the gate current.
        if (nextPoll != null) {
            nextPoll.cancel(false);
        }
        ScheduledExecutorService ex = executor;
        if (running && ex != null) {
            try {
                nextPoll = ex.schedule(this::requestRead, properties.pollInterval().toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // stopping
            }
        }
        if (!gate.readsHere()) {
            return; // another replica reads the quotas and shares what it read: a GET here would only add load
        }
        spacing.readStarted();
        CapacityGate.ReadTicket ticket = gate.beginRead();
        String failure = null;
        if (properties.everyQuota()) {
            failure = reader.readEvery(ticket);
        } else {
            for (String name : properties.quotas()) {
                String f = reader.readOne(ticket, name);
                failure = failure == null ? f : failure;
            }
        }
        if (failure != null) {
            failed(failure);
            return;
        }
        GateState s = gate.state();
        s.limits().stream()
                .filter(l -> l.source().equals(s.limitedBySource()) && l.resource().equals(s.limitedByResource()))
                .filter(l -> l.cost() > 0) // a limit of cost 0 binds only when no limit counts messages
                .findFirst()
                .ifPresent(l -> spacing.readApplied(ticket.createdBefore(), -Math.floorDiv(-l.used(), l.cost())));
        if (consecutiveFailures > 0) {
            log.info("Quota {}/{} readable again after {} failed read(s)", namespace,
                    properties.everyQuota() ? "*" : String.join(",", properties.quotas()), consecutiveFailures);
        }
        consecutiveFailures = 0;
        lastLoggedError = null;
    }

    private void failed(String message) {
        consecutiveFailures++;
        if (!message.equals(lastLoggedError)) {
            log.warn("{}", message);
            lastLoggedError = message;
        } else if (Long.bitCount(consecutiveFailures) == 1) {
            log.warn("{} (failed {} times in a row)", message, consecutiveFailures);
        }
        // Retry sooner than the poll interval so recovery is quick, backing off to spare a struggling apiserver.
        long delayMs = Math.min(MAX_RETRY_DELAY.toMillis(), 250L << Math.min(consecutiveFailures, 6));
        delayMs = Math.min(delayMs, properties.pollInterval().toMillis());
        ScheduledExecutorService ex = executor;
        if (running && ex != null && (retry == null || retry.isDone())) {
            retry = ex.schedule(this::requestRead, delayMs, TimeUnit.MILLISECONDS);
        }
    }

    @Override
    public void stop() {
        running = false;
        informers.forEach(SharedIndexInformer::stop);
        ScheduledExecutorService ex = executor;
        if (ex != null) {
            ex.shutdownNow();
        }
    }

    @Override
    public boolean isRunning() {
        return running;
    }

    /** Start before the consumer so the first read is under way when it asks the gate. */
    @Override
    public int getPhase() {
        return SmartLifecycle.DEFAULT_PHASE - 1000;
    }
}
