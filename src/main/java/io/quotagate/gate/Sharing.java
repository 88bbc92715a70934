package io.quotagate.gate;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * The gate's side of replicas sharing one quota: applying the shared reading together with this process's caps (the
 * units beyond that reading it may hold), and reporting what it holds. Each cap is relative to the reading it comes
 * with, so a reading and its caps change in one turn of the lock: a newer reading with the older caps would let this
 * process count its covered creates neither in the reading nor against its cap.
 */
final class Sharing {

    private final GateCore core;
    private final QuotaReads reads;
    /** See {@link #createsBounded}; unbounded until a coordination says otherwise. One field: never half-moved. */
    private volatile Window window = new Window(Long.MAX_VALUE, Long.MAX_VALUE);
    /** Fail-mode open while coordination fails: this process goes on alone. Set with the error, read without lock. */
    private volatile boolean alone;

    private record Window(long startBy, long endBy) {
    }

    Sharing(GateCore core, QuotaReads reads) {
        this.core = core;
        this.reads = reads;
    }

    void applyShared(Map<String, SharedSource> sources, Map<String, Map<String, Long>> caps, long newestSequence) {
        core.mutate(() -> {
            for (Map.Entry<String, SharedSource> e : sources.entrySet()) {
                SharedSource shared = e.getValue();
                Limits.Source s = core.limits.source(e.getKey());
                if (shared.sequence() <= s.newestApplied) {
                    continue;
                }
                if (shared.limits() != null) {
                    core.limits.applied(s, shared.sequence(), shared.createdBefore(), shared.limits());
                    core.lastCheckedAt = core.clock.instant();
                } else if (shared.error() != null) {
                    core.limits.failed(s, shared.error(), shared.configuration());
                }
            }
            for (Limits.Source s : List.copyOf(core.limits.sources())) {
                if (!sources.containsKey(s.name)) {
                    core.limits.remove(s); // gone (quota-names ["*"]), or the reader does not read it
                }
            }
            // A 403 waits for a reading started after it; shared readings are numbered by the reader, so this is the
            // nearest "now" this process knows. It errs only in letting the next reading clear the 403 a little early.
            core.readsStarted = Math.max(core.readsStarted, newestSequence);
            setCaps(caps);
            reads.clearRejectionIfReadAgain();
        });
    }

    void caps(Map<String, Map<String, Long>> caps) {
        core.mutate(() -> setCaps(caps));
    }

    private void setCaps(Map<String, Map<String, Long>> caps) {
        core.chargeShort = false; // a charge that came up short may fit the new caps: it tells again if not
        for (Limits.Source s : core.limits.sources()) {
            s.caps = caps == null ? null : Map.copyOf(caps.getOrDefault(s.name, Map.of()));
        }
        core.capsOn = caps != null;
    }

    OwnUsage usage() {
        core.lock.lock();
        try {
            long held = core.held.get(); // before the created count: see GateCore
            long created = core.createdTotal.get();
            long live = held + core.reserved;
            Map<String, Map<String, Long>> extraCreated = new HashMap<>();
            Map<String, Map<String, Long>> consumed = new HashMap<>();
            Map<String, Map<String, Long>> costs = new HashMap<>();
            for (Limits.Limit l : core.limits.all()) {
                String source = l.source.name;
                String resource = l.reading.resource();
                long cost = l.reading.cost();
                long extra = l.source.extraCreatedTotal.getOrDefault(resource, 0L);
                extraCreated.computeIfAbsent(source, k -> new HashMap<>()).put(resource, extra);
                consumed.computeIfAbsent(source, k -> new HashMap<>())
                        .put(resource, cost * (created + live) + extra + l.source.extraHeld(resource));
                costs.computeIfAbsent(source, k -> new HashMap<>()).put(resource, cost);
            }
            boolean capBound = core.capsOn && (core.leaseShort || core.chargeShort);
            boolean idle = core.paused || core.forbidden != null || core.coordinationClosed();
            return new OwnUsage(created, extraCreated, consumed, costs, core.lastRequested, capBound, idle);
        } finally {
            core.lock.unlock();
        }
    }

    /**
     * The window the coordination leaves for creates, in the gate clock's epoch millis: a create may start until
     * {@code startBy} and must have ended by {@code endBy}, when the others may take this process's share back.
     */
    void createsBounded(long startBy, long endBy) {
        boolean wasClosed = createWindowMillis() <= 0;
        window = new Window(startBy, endBy);
        if (wasClosed && createWindowMillis() > 0) {
            core.lock.lock();
            try {
                core.capacityChanged.signalAll(); // the fetch loop waits in awaitCreateWindow
            } finally {
                core.lock.unlock();
            }
        }
    }

    /**
     * Waits until a create may start ({@link #createWindowMillis()} above 0), at most {@code maxNanos}, while
     * {@code keepWaiting} holds. Opening is announced by {@link #createsBounded}; going on alone in fail-mode open is
     * not, and is seen at the next wake-up or timeout.
     */
    boolean awaitCreateWindow(long maxNanos, BooleanSupplier keepWaiting) throws InterruptedException {
        if (createWindowMillis() > 0) {
            return true;
        }
        core.lock.lock();
        try {
            long left = maxNanos;
            while (createWindowMillis() <= 0 && left > 0 && keepWaiting.getAsBoolean()) {
                left = core.capacityChanged.awaitNanos(left);
            }
            return createWindowMillis() > 0;
        } finally {
            core.lock.unlock();
        }
    }

    /**
     * How long a create started now may take, in millis: 0 when none may start, {@link Long#MAX_VALUE} when nothing
     * bounds it (no coordination, or fail-mode open while coordination fails: then this process goes on alone).
     */
    long createWindowMillis() {
        Window w = window;
        if (w.endBy() == Long.MAX_VALUE || alone) {
            return Long.MAX_VALUE;
        }
        long now = core.clock.millis();
        return now > w.startBy() ? 0 : Math.max(0, w.endBy() - now);
    }

    /**
     * In fail-mode open a member that cannot coordinate goes on alone: uncapped, on the last shared reading (a create
     * refused for quota then closes it until coordination works again). The coordinator applies caps again when it
     * does.
     */
    void coordinationFailing(String error) {
        core.mutate(() -> {
            core.coordinationError = error;
            alone = error != null && core.failMode == FailMode.OPEN;
            if (error != null && core.failMode == FailMode.OPEN) {
                setCaps(null);
            }
        });
    }
}
