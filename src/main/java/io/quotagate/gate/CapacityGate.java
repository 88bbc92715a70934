package io.quotagate.gate;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides how many messages may be fetched now. Pure bookkeeping in memory: no I/O, no Spring.
 *
 * <p>Headroom = threshold − used(last read) − held − createdUnobserved, where <em>held</em> are
 * permits handed out and not yet resolved (fetched, being created) and <em>createdUnobserved</em> are
 * objects this process created after the newest applied quota read was <em>started</em>. The apiserver's
 * quota admission updates {@code status.used} before a create returns, so a read started after a create
 * returned includes it; a read started earlier may not. Counting both ways errs only towards
 * over-counting, which is why a burst cannot overshoot even at capacity-ratio 1.0.
 *
 * <p>Every method is thread-safe; one lock guards all state and one condition wakes the fetch loop
 * the moment headroom appears.
 */
public final class CapacityGate {

    private static final Logger log = LoggerFactory.getLogger(CapacityGate.class);
    static final int TRANSITIONS_KEPT = 20;
    /**
     * At the threshold every freed slot opens the gate for one fetch that closes it again; transitions
     * closer together than this are summarised in one line instead of two lines per completed object.
     */
    static final long LOG_WINDOW_NANOS = Duration.ofSeconds(5).toNanos();

    /** Identifies one quota read; obtain it <em>before</em> sending the request. */
    public record ReadTicket(long sequence, long createdBefore) {
    }

    private final boolean enabled;
    private final BigDecimal capacityRatio;
    private final FailMode failMode;
    private final Clock clock;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition capacityChanged = lock.newCondition();
    private volatile Runnable refreshRequester = () -> { };
    private volatile Runnable acquireListener = () -> { };
    /**
     * {@link #permitsRevoked()}, kept by {@link #changed()}: every worker asks once per message, so it is read
     * without the lock.
     */
    private volatile boolean revoked;

    // All below guarded by lock.
    private QuotaReading reading;
    private long threshold = -1;
    private boolean unknown = true;
    private String lastError;
    private boolean configurationError;
    private Instant lastCheckedAt;
    /** Permits taken for a fetch that has not returned yet. */
    private long reserved;
    /** Permits of fetched messages that are not settled yet. */
    private long held;
    private long createdTotal;
    /** Fetches that returned at least one message. */
    private long batchesFetched;
    /** The {@code max} of the latest acquire: the batch the loop wants. */
    private int lastRequested = 1;
    private long createdObserved;
    private long readsStarted;
    private long newestAppliedRead;
    /** readsStarted at the last "exceeded quota" answer; -1 when none is waiting for a fresher read. */
    private long rejectedAtRead = -1;
    private boolean paused;
    private BlockedReason reason;
    private Instant blockedSince;
    private long blockedSinceNanos;
    private final Map<BlockedReason, Long> blockedNanos = new EnumMap<>(BlockedReason.class);
    private final ArrayDeque<GateTransition> transitions = new ArrayDeque<>();
    private long lastLoggedNanos = System.nanoTime() - LOG_WINDOW_NANOS;
    private int unlogged;

    /**
     * @param enabled       false when no quota is configured: only pause blocks
     * @param capacityRatio fraction of the hard limit this process may fill, in (0, 1]
     * @param failMode      what an unreadable quota means
     * @param clock         source of timestamps for the state view
     */
    public CapacityGate(boolean enabled, double capacityRatio, FailMode failMode, Clock clock) {
        if (!(capacityRatio > 0 && capacityRatio <= 1)) {
            throw new IllegalArgumentException("capacityRatio must be in (0, 1], was " + capacityRatio);
        }
        this.enabled = enabled;
        // valueOf keeps the decimal the user wrote: 0.29 × 100 is 29, not 28.999…
        this.capacityRatio = BigDecimal.valueOf(capacityRatio);
        this.failMode = failMode;
        this.clock = clock;
        lock.lock();
        try {
            reason = computeReason();
            revoked = computeRevoked();
            if (reason != null) {
                blockedSince = clock.instant();
                blockedSinceNanos = System.nanoTime();
            }
        } finally {
            lock.unlock();
        }
    }

    /** floor(hard × ratio), but at least 1 while hard ≥ 1 so a tiny quota is usable at all. */
    public static long thresholdFor(long hard, BigDecimal ratio) {
        if (hard <= 0) {
            return 0;
        }
        long t = BigDecimal.valueOf(hard).multiply(ratio).setScale(0, RoundingMode.FLOOR).longValueExact();
        return Math.max(1, t);
    }

    public boolean enabled() {
        return enabled;
    }

    /** Called (outside the lock) when the gate needs a fresh quota read, e.g. after "exceeded quota". */
    public void onRefreshNeeded(Runnable requester) {
        this.refreshRequester = requester == null ? () -> { } : requester;
    }

    /**
     * Called on the fetch thread at the start of every {@link #acquire}, outside the lock, so the quota monitor can
     * take one deferred read per fetch. Must be cheap and must not block.
     */
    public void onAcquire(Runnable listener) {
        this.acquireListener = listener == null ? () -> { } : listener;
    }

    /**
     * Whether a change of the quota should be read at once rather than at the next fetch: the gate is closed (for
     * any reason), the quota is not known yet, or the headroom no longer covers two of the batches the loop asks
     * for. While it is false the gate lets whole batches through anyway, so a fresher read could not change the
     * next decision (the margin of a second batch absorbs what other writers may add meanwhile).
     */
    public boolean wantsFreshRead() {
        lock.lock();
        try {
            if (!enabled) {
                return false;
            }
            if (reason != null || unknown || reading == null) {
                return true;
            }
            return headroomForMessages() < 2L * lastRequested;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Takes up to {@code max} permits, waiting up to {@code maxWait} for headroom.
     *
     * @param keepWaiting checked on every wake-up; return false to give up early (shutdown)
     * @return the number of permits taken, 0 when none became available in time
     */
    public int acquire(int max, Duration maxWait, BooleanSupplier keepWaiting) throws InterruptedException {
        if (max <= 0) {
            return 0;
        }
        acquireListener.run();
        long nanos = maxWait.toNanos();
        lock.lockInterruptibly();
        try {
            lastRequested = max;
            long headroom;
            while ((headroom = headroom()) <= 0) {
                if (nanos <= 0 || !keepWaiting.getAsBoolean()) {
                    return 0;
                }
                nanos = capacityChanged.awaitNanos(nanos);
            }
            int n = (int) Math.min(max, headroom);
            reserved += n;
            changed();
            return n;
        } finally {
            lock.unlock();
        }
    }

    /** Non-blocking {@link #acquire}. */
    public int tryAcquire(int max) {
        try {
            return acquire(max, Duration.ZERO, () -> false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 0;
        }
    }

    /**
     * The fetch for {@code acquired} permits returned {@code received} messages: those keep a permit each
     * until settled, the rest go back. Kept apart from {@link #settled} so that permits reserved for a
     * fetch that finds nothing never show as "quota full".
     */
    public void fetched(int acquired, int received) {
        lock.lock();
        try {
            reserved = Math.max(0, reserved - acquired);
            held += Math.min(acquired, Math.max(0, received));
            if (received > 0) {
                batchesFetched++;
            }
            changed();
        } finally {
            lock.unlock();
        }
    }

    /** Fetches that returned at least one message since start (a read-only statistic). */
    public long batchesFetched() {
        lock.lock();
        try {
            return batchesFetched;
        } finally {
            lock.unlock();
        }
    }

    /**
     * Reports permits settled since the last report in one go: {@code created} became objects (they stay counted
     * until a read started after this moment), {@code returned} did not (nak, dead-letter, already exists). The
     * consumer reports per worker and batch rather than per message, so that workers do not queue on this lock once
     * per message; until reported, a permit still counts as held, which can only make the gate fetch less, never
     * more.
     */
    public void settled(int created, int returned) {
        if (created <= 0 && returned <= 0) {
            return;
        }
        lock.lock();
        try {
            held = Math.max(0, held - Math.max(0, created) - Math.max(0, returned));
            createdTotal += Math.max(0, created);
            changed();
        } finally {
            lock.unlock();
        }
    }

    /**
     * The apiserver refused a create with "exceeded quota" (another writer filled it, or our last read
     * was stale): close at once until a read started after this moment says otherwise.
     */
    public void quotaRejected() {
        lock.lock();
        try {
            held = Math.max(0, held - 1);
            rejectedAtRead = readsStarted;
            changed();
        } finally {
            lock.unlock();
        }
        refreshRequester.run();
    }

    /**
     * A fetched batch is settled. If only our own not-yet-observed creates stand between the gate and
     * more headroom, ask for a read now: the watch event for the last create can arrive (and its read
     * start) before that create's response did, and no further event would come to correct it.
     */
    public void batchSettled() {
        boolean refresh;
        lock.lock();
        try {
            refresh = createdTotal > createdObserved && headroom() <= 0;
        } finally {
            lock.unlock();
        }
        if (refresh) {
            refreshRequester.run();
        }
    }

    /** Starts a quota read. Take the ticket immediately before sending the request. */
    public ReadTicket beginRead() {
        lock.lock();
        try {
            return new ReadTicket(++readsStarted, createdTotal);
        } finally {
            lock.unlock();
        }
    }

    /** Applies a successful read; a read overtaken by a newer applied one is ignored. */
    public void update(ReadTicket ticket, QuotaReading newReading) {
        lock.lock();
        try {
            if (ticket.sequence() <= newestAppliedRead) {
                return;
            }
            newestAppliedRead = ticket.sequence();
            createdObserved = Math.max(createdObserved, ticket.createdBefore());
            if (rejectedAtRead >= 0 && ticket.sequence() > rejectedAtRead) {
                rejectedAtRead = -1;
            }
            reading = newReading;
            threshold = thresholdFor(newReading.hard(), capacityRatio);
            unknown = false;
            lastError = null;
            configurationError = false;
            lastCheckedAt = clock.instant();
            changed();
        } finally {
            lock.unlock();
        }
    }

    /**
     * Records a failed read. The gate treats the quota as unknown until the next good read.
     *
     * @param configuration true when retrying cannot help (quota or resource missing, RBAC)
     */
    public void readFailed(ReadTicket ticket, String error, boolean configuration) {
        lock.lock();
        try {
            if (ticket.sequence() <= newestAppliedRead) {
                return;
            }
            unknown = true;
            lastError = error;
            configurationError = configuration;
            changed();
        } finally {
            lock.unlock();
        }
    }

    public void pause() {
        setPaused(true);
    }

    public void resume() {
        setPaused(false);
    }

    private void setPaused(boolean value) {
        lock.lock();
        try {
            paused = value;
            changed();
        } finally {
            lock.unlock();
        }
    }

    /**
     * True while permits handed out earlier must not be used any more: paused, the quota unknown in fail-mode
     * closed, or a create just answered "exceeded quota". A fetch that took its permits while the gate was open
     * and is still waiting for its first message must then take nothing more, and what it got goes back.
     */
    public boolean permitsRevoked() {
        return revoked;
    }

    private boolean computeRevoked() {
        return paused || (enabled && unknown && failMode == FailMode.CLOSED) || (enabled && rejectedAtRead >= 0);
    }

    public boolean paused() {
        lock.lock();
        try {
            return paused;
        } finally {
            lock.unlock();
        }
    }

    /** Wakes a waiting {@link #acquire} so it re-checks its {@code keepWaiting} condition. */
    public void wakeWaiters() {
        lock.lock();
        try {
            capacityChanged.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Seconds spent blocked for this reason since start, including the current period. */
    public double blockedSeconds(BlockedReason r) {
        lock.lock();
        try {
            long nanos = blockedNanos.getOrDefault(r, 0L);
            if (reason == r) {
                nanos += System.nanoTime() - blockedSinceNanos;
            }
            return nanos / 1e9;
        } finally {
            lock.unlock();
        }
    }

    public GateState state() {
        lock.lock();
        try {
            long headroom = headroom();
            return new GateState(enabled, reason != null, reason,
                    reading == null ? -1 : reading.hard(), reading == null ? -1 : reading.used(), threshold,
                    held + reserved, createdTotal - createdObserved,
                    headroom == Long.MAX_VALUE ? -1 : headroom,
                    blockedSince, lastCheckedAt, lastError, configurationError, List.copyOf(transitions));
        } finally {
            lock.unlock();
        }
    }

    private long headroom() {
        if (paused) {
            return 0;
        }
        if (!enabled) {
            return Long.MAX_VALUE;
        }
        if (unknown) {
            return failMode == FailMode.OPEN ? Long.MAX_VALUE : 0;
        }
        if (rejectedAtRead >= 0) {
            return 0;
        }
        return Math.max(0, threshold - reading.used() - reserved - held - (createdTotal - createdObserved));
    }

    /** Headroom ignoring an outstanding fetch's reservation: what decides whether the quota is full. */
    private long headroomForMessages() {
        return Math.max(0, threshold - reading.used() - held - (createdTotal - createdObserved));
    }

    private BlockedReason computeReason() {
        if (paused) {
            return BlockedReason.PAUSED;
        }
        if (!enabled) {
            return null;
        }
        if (unknown) {
            return failMode == FailMode.CLOSED ? BlockedReason.QUOTA_UNKNOWN : null;
        }
        if (rejectedAtRead >= 0) {
            return BlockedReason.QUOTA_FULL;
        }
        return headroomForMessages() <= 0 ? BlockedReason.QUOTA_FULL : null;
    }

    private void logState(long nanoNow) {
        long used = reading == null ? -1 : reading.used();
        long holding = reserved + held + (createdTotal - createdObserved);
        String flapping = unlogged == 0 ? ""
                : " (" + unlogged + " more transitions in the last " + (nanoNow - lastLoggedNanos) / 1_000_000_000L + "s)";
        lastLoggedNanos = nanoNow;
        unlogged = 0;
        if (reason == null) {
            log.info("Quota gate open: used {} + held {} of threshold {}{}", used, holding, threshold, flapping);
        } else if (reason == BlockedReason.QUOTA_UNKNOWN) {
            log.warn("Quota gate closed ({}): {}{}", reason.label(), lastError == null ? "quota not read yet" : lastError, flapping);
        } else {
            log.info("Quota gate closed ({}): used {} + held {} of threshold {}{}", reason.label(), used, holding, threshold, flapping);
        }
    }

    /** Re-derives the blocked reason after any change; records and logs a transition, wakes the loop. */
    private void changed() {
        revoked = computeRevoked();
        BlockedReason now = computeReason();
        if (now != reason) {
            long nanoNow = System.nanoTime();
            Instant at = clock.instant();
            if (reason != null) {
                blockedNanos.merge(reason, nanoNow - blockedSinceNanos, Long::sum);
            }
            if (now != null) {
                blockedSinceNanos = nanoNow;
                if (reason == null) {
                    blockedSince = at;
                }
            } else {
                blockedSince = null;
            }
            BlockedReason previous = reason;
            reason = now;
            long used = reading == null ? -1 : reading.used();
            long holding = held + (createdTotal - createdObserved);
            transitions.addLast(new GateTransition(at, now == null, now, used, holding, threshold));
            while (transitions.size() > TRANSITIONS_KEPT) {
                transitions.removeFirst();
            }
            // Only open <-> full can flap with every fetch; an outage or a pause is always reported at once.
            boolean routine = (now == null || now == BlockedReason.QUOTA_FULL)
                    && (previous == null || previous == BlockedReason.QUOTA_FULL);
            if (!routine || nanoNow - lastLoggedNanos >= LOG_WINDOW_NANOS) {
                logState(nanoNow);
            } else {
                unlogged++;
            }
        } else if (unlogged > 0 && System.nanoTime() - lastLoggedNanos >= LOG_WINDOW_NANOS) {
            logState(System.nanoTime());
        }
        if (headroom() > 0) {
            capacityChanged.signalAll();
        }
    }
}
