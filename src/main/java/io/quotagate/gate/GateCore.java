package io.quotagate.gate;

import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

/**
 * The gate's state and the rules that derive its decisions from it: the one lock, the one condition, the counts of
 * permits reserved, held and created, the limits, and what blocks. {@link CapacityGate} (the permit lease),
 * {@link QuotaReads} (the read protocol) and {@link StateSnapshot} (the view) all work on this one instance; none
 * keeps state of its own that a decision depends on.
 *
 * <p>Fields are guarded by {@link #lock} unless said otherwise. Methods whose name does not say otherwise expect the
 * caller to hold it.
 */
final class GateCore {

    final boolean enabled;
    final BigDecimal capacityRatio;
    final FailMode failMode;
    final Clock clock;
    final ReentrantLock lock = new ReentrantLock();
    final Condition capacityChanged = lock.newCondition();
    volatile Runnable refreshRequester = () -> { };
    volatile Runnable acquireListener = () -> { };
    /** {@link CapacityGate#permitsRevoked()}, kept by {@link #changed()}: asked once per message, so read without the lock. */
    volatile boolean revoked;

    /** The quotas read and their limits; the quota is unknown until each has been read. */
    final Limits limits;
    final Transitions transitions;
    Instant lastCheckedAt;
    /**
     * The apiserver's words while creates are denied (authorization, terminating namespace); null when allowed. Written
     * under the lock; volatile so {@link CapacityGate#createAllowed()} can skip the lock in the common case.
     */
    volatile String forbidden;
    long reserved;
    /**
     * Guarded by lock, except that {@link CapacityGate.Permit#created()} moves one from {@code held} to
     * {@code createdTotal} without it (see {@link #createdWithoutLock}): read {@code held} first.
     */
    final AtomicLong held = new AtomicLong();
    final AtomicLong createdTotal = new AtomicLong();
    long batchesFetched;
    /** The {@code max} of the latest lease: the batch the loop wants. */
    int lastRequested = 1;
    long readsStarted;
    /**
     * readsStarted at the last "exceeded quota" answer; -1 when none is waiting for a fresher read. The apiserver names
     * the quota it exceeded, but another writer may fill any of them, so every quota must be read again.
     */
    long rejectedAtRead = -1;
    boolean paused;
    /**
     * Charges ({@link ExtraUnits#charge}) waiting for a fetch's reservation to end: while any waits, no new lease is
     * granted, so the room a closing lease gives back goes to the message already fetched, not to the next fetch.
     */
    int chargesWaiting;
    /** Replicas share the quota: caps bound this process's limits ({@link Sharing}). */
    boolean capsOn;
    /** The latest lease got fewer permits than asked for (or is waiting for any). */
    boolean leaseShort;
    /** A charge found no room under the caps set last. */
    boolean chargeShort;
    /** Why this process cannot coordinate with its replicas now; null while it can (or there is nothing to share). */
    String coordinationError;
    /**
     * Told when a lease or a charge comes up short while caps bound this process: the coordination may grow them. Run
     * under the lock, so it must only signal (never block, never call the gate).
     */
    volatile Runnable capBoundListener = () -> { };
    /** How long a charge waits for a fetch's reservation: longer than a fetch holds one. Volatile: set once, early. */
    volatile long chargeWaitNanos = Duration.ofSeconds(2).toNanos();

    GateCore(boolean enabled, BigDecimal capacityRatio, FailMode failMode, Clock clock) {
        this.enabled = enabled;
        this.capacityRatio = capacityRatio;
        this.limits = new Limits(capacityRatio);
        this.failMode = failMode;
        this.clock = clock;
        this.transitions = new Transitions(clock);
        lock.lock();
        try {
            transitions.start(computeReason());
            revoked = computeRevoked();
        } finally {
            lock.unlock();
        }
    }

    // ---- changing state (take the lock themselves) ----------------------------------------------------------------

    /** Runs {@code change} under the lock, re-derives the state, and logs a transition after unlocking. */
    void mutate(Runnable change) {
        Runnable logLine;
        lock.lock();
        try {
            change.run();
            logLine = changed();
        } finally {
            lock.unlock();
        }
        if (logLine != null) {
            logLine.run();
        }
    }

    /** {@link #mutate}, then asks for a fresh read (outside the lock) when {@code change} says one is needed. */
    void mutateThenMaybeRefresh(BooleanSupplier change) {
        boolean[] refresh = new boolean[1];
        mutate(() -> refresh[0] = change.getAsBoolean());
        if (refresh[0]) {
            refreshRequester.run();
        }
    }

    /**
     * A created object moves from held to created-unobserved: the headroom, the blocked reason and what is revoked stay
     * as they were, so in the common case this needs neither the lock nor a wake-up (every worker resolves a permit
     * per message; the lock there cost more than the rest of the gate). The count of created objects goes up before
     * held goes down, and everything under the lock reads held before it reads the created count, so a reader in
     * between counts this object twice, never not at all: it can only make the gate more careful for a moment. A
     * read's ticket taken in between may or may not include it; without it, the object stays counted as unobserved
     * until a later read, which again only errs towards over-counting. Only the last held permit takes the lock, for
     * the check {@link #onlyOwnUnobservedCreatesBlock} makes.
     */
    void createdWithoutLock() {
        createdTotal.incrementAndGet();
        if (held.decrementAndGet() > 0) {
            return;
        }
        mutateThenMaybeRefresh(this::onlyOwnUnobservedCreatesBlock);
    }

    /** Reserves up to {@code max} permits for a fetch, waiting up to {@code maxWait} for headroom; 0 when none came. */
    int reserve(int max, Duration maxWait, BooleanSupplier keepWaiting) throws InterruptedException {
        acquireListener.run();
        long nanos = maxWait.toNanos();
        int n;
        Runnable logLine;
        lock.lockInterruptibly();
        try {
            lastRequested = max;
            long headroom;
            // A charge waiting for this loop's previous reservation goes first (see ExtraUnits#charge).
            while ((headroom = headroom()) <= 0 || chargesWaiting > 0) {
                if (capsOn && !leaseShort) {
                    leaseShort = true; // waiting: the coordination should know now, not when the wait is over
                    capBoundListener.run();
                }
                if (nanos <= 0 || !keepWaiting.getAsBoolean()) {
                    return 0;
                }
                nanos = capacityChanged.awaitNanos(nanos);
            }
            n = (int) Math.min(max, headroom);
            reserved += n;
            if (capsOn && n < max && !leaseShort) {
                capBoundListener.run();
            }
            leaseShort = n < max;
            logLine = changed();
        } finally {
            lock.unlock();
        }
        if (logLine != null) {
            logLine.run();
        }
        return n;
    }

    /** Holding the lock: a charge came back short while caps bound this process; tell the coordination. */
    void chargeCameShort() {
        if (capsOn) {
            chargeShort = true;
            capBoundListener.run();
        }
    }

    /** Fetched messages take {@code n} reserved permits: the headroom stays as it was. */
    void reservedTaken(int n) {
        mutate(() -> {
            reserved -= n;
            held.addAndGet(n);
        });
    }

    /** A lease of {@code permits} closes with {@code back} of them untaken. */
    void reservedReturned(int back, int permits) {
        mutateThenMaybeRefresh(() -> {
            reserved = Math.max(0, reserved - back);
            if (back < permits) {
                batchesFetched++;
            }
            // A charge may be waiting for exactly this reservation to end, whatever the headroom in messages.
            capacityChanged.signalAll();
            // The permits of this fetch may all have resolved before it closed: the check a permit makes when it
            // resolves last is then made here.
            return onlyOwnUnobservedCreatesBlock();
        });
    }

    /** Holding the lock: a held permit goes back (rejected: "exceeded quota"). @return whether to ask for a read */
    boolean heldReturned(boolean rejected) {
        held.decrementAndGet();
        if (rejected) {
            rejectedAtRead = readsStarted;
        }
        return rejected || onlyOwnUnobservedCreatesBlock();
    }

    // ---- deciding (hold the lock) ---------------------------------------------------------------------------------

    long headroom() {
        if (paused || forbidden != null || coordinationClosed()) {
            return 0;
        }
        if (!enabled) {
            return Long.MAX_VALUE;
        }
        if (limits.unknown() ? failMode == FailMode.CLOSED : rejectedAtRead >= 0) {
            // Fail-open does not wait for a 403's re-read: the unreadable quota could not be read again.
            return 0;
        }
        long h = held.get(); // before the created count: see createdWithoutLock
        long room = limits.minRoom(createdTotal.get());
        return room == Long.MAX_VALUE ? room : Math.max(0, room - reserved - h);
    }

    long headroomIgnoringReservation() {
        if (paused || forbidden != null || coordinationClosed()) {
            return 0;
        }
        if (!enabled || limits.unknown()) {
            return headroom();
        }
        return rejectedAtRead >= 0 ? 0 : headroomForMessages();
    }

    /** Headroom ignoring an outstanding fetch's reservation: what decides whether the quota is full. */
    long headroomForMessages() {
        long h = held.get(); // before the created count: see createdWithoutLock
        long room = limits.minRoom(createdTotal.get());
        return room == Long.MAX_VALUE ? room : Math.max(0, room - h);
    }

    /**
     * Nothing is in flight and only our own creates, not yet seen by a read, keep the gate closed: the watch event of
     * the last create can arrive (and its read start) before that create's response did, and no further event would
     * come to correct it, so a read must be asked for.
     */
    boolean onlyOwnUnobservedCreatesBlock() {
        return enabled && !limits.unknown() && held.get() == 0 && reserved == 0
                && limits.maxUnobserved(createdTotal.get()) > 0 && headroomForMessages() <= 0;
    }

    /** Our creates the binding limit's quota (with none, the quota read longest ago) cannot include yet. */
    long unobserved(Limits.Limit binding, long created) {
        if (binding != null) {
            return created - binding.source.createdObserved;
        }
        return limits.isEmpty() ? created : limits.maxUnobserved(created);
    }

    /** Coordination failing in fail-mode closed: this process may not know what its replicas hold. */
    boolean coordinationClosed() {
        return coordinationError != null && failMode == FailMode.CLOSED && enabled;
    }

    boolean computeRevoked() {
        return paused || forbidden != null || coordinationClosed() || (enabled && limits.unknown() && failMode == FailMode.CLOSED)
                || (enabled && rejectedAtRead >= 0);
    }

    BlockedReason computeReason() {
        if (paused) {
            return BlockedReason.PAUSED;
        }
        if (forbidden != null) {
            return BlockedReason.FORBIDDEN;
        }
        if (!enabled) {
            return null;
        }
        if (coordinationClosed()) {
            return BlockedReason.COORDINATION;
        }
        if (limits.unknown()) {
            if (failMode == FailMode.CLOSED) {
                return BlockedReason.QUOTA_UNKNOWN;
            }
            return headroomForMessages() <= 0 ? BlockedReason.QUOTA_FULL : null; // the quotas that were read
        }
        if (rejectedAtRead >= 0) {
            return BlockedReason.QUOTA_FULL;
        }
        return headroomForMessages() <= 0 ? BlockedReason.QUOTA_FULL : null;
    }

    /**
     * Re-derives the blocked reason after any change; records a transition, wakes the loop.
     *
     * @return the log line to write once the lock is released, or null
     */
    Runnable changed() {
        revoked = computeRevoked();
        BlockedReason now = computeReason();
        Runnable logLine = transitions.pending(now) ? transitions.update(now, facts()) : null;
        if (headroom() > 0) {
            capacityChanged.signalAll();
        }
        return logLine;
    }

    private Transitions.Facts facts() {
        long h = held.get();
        long created = createdTotal.get();
        Limits.Limit binding = limits.binding(created);
        Limits.Source failedSource = limits.firstUnknown();
        String error = coordinationError != null ? coordinationError
                : failedSource == null ? null : failedSource.error;
        return new Transitions.Facts(binding == null ? -1 : binding.reading.used(), h + unobserved(binding, created),
                reserved, binding == null ? -1 : binding.threshold, error, forbidden);
    }
}
