package io.quotagate.gate;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.BooleanSupplier;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Decides how many messages may be fetched now. Pure bookkeeping in memory: no I/O, no Spring.
 *
 * <p>The gate checks one or more <em>limits</em>: a resource of a ResourceQuota (its <em>source</em>), with its own
 * reading, its own threshold (floor(hard × capacity-ratio), at least 1 while hard ≥ 1) and a cost: what one message's
 * object charges it. Per limit, in messages: room = floor((threshold − used(last read of its quota)) ÷ cost) −
 * reserved − held − createdUnobserved(its quota), where <em>reserved</em> are permits of a fetch under way,
 * <em>held</em> are permits of fetched messages not yet settled, and <em>createdUnobserved</em> are objects this process
 * created after the newest applied read of that quota was <em>started</em>. The headroom is the least room of any limit.
 * The apiserver's quota admission updates {@code status.used} before a create returns, so a read started after a create
 * returned includes it; a read started earlier may not. Counting both ways errs only towards over-counting, which is
 * why a burst overshoots no limit, even at capacity-ratio 1.0. With one quota and one resource costing 1 per message
 * (the original sensor's configuration) this is threshold − used − reserved − held − createdUnobserved.
 *
 * <h2>Two callers, two protocols</h2>
 * <ul>
 *   <li>The fetch loop takes a {@link Lease} for one fetch ({@link #lease}); each fetched message takes a
 *       {@link Permit} from it, and each permit is resolved once: {@linkplain Permit#created() created},
 *       {@linkplain Permit#returned() returned} or {@linkplain Permit#quotaRejected() rejected for quota}.
 *       Closing the lease gives back what no message took. A permit resolved twice counts once, so no path can leak
 *       or double-free one.</li>
 *   <li>The quota monitor reads: {@link #beginRead()} immediately before the request, then, per quota the request
 *       returned, {@link #apply} or {@link #readFailed} with that ticket (a read of a quota carries every limit of
 *       it). A read overtaken by a newer applied read of the same quota is ignored. The quota is unknown until every
 *       quota named by {@link #expect} or seen since has a good read, and again after a failed read of any.</li>
 * </ul>
 * Everything else is operator input ({@link #pause()}, {@link #resume()}, {@link #forbidden}, {@link #createAllowed})
 * or the read-only {@link GateView} that the web API, health and metrics are given instead of the gate itself.
 *
 * <p>Thread-safe; one lock guards all state (except the one step of a created permit, which changes no decision:
 * see {@link #createdWithoutLock}) and one condition wakes the fetch loop the moment headroom appears. Transitions
 * are logged after the lock is released.
 */
public final class CapacityGate implements GateView {

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
    /** {@link #permitsRevoked()}, kept by {@link #changed()}: asked once per message, so read without the lock. */
    private volatile boolean revoked;

    // All below guarded by lock.
    /** The quotas read and their limits; the quota is unknown until each has been read. */
    private final Limits limits;
    private Instant lastCheckedAt;
    /**
     * The apiserver's words while creates are denied (authorization, terminating namespace); null when allowed. Written
     * under the lock; volatile so {@link #createAllowed()} can skip the lock in the common case.
     */
    private volatile String forbidden;
    private long reserved;
    /**
     * Guarded by lock, except that {@link Permit#created()} moves one from {@code held} to {@code createdTotal}
     * without it (see {@link #createdWithoutLock}): read {@code held} first.
     */
    private final AtomicLong held = new AtomicLong();
    private final AtomicLong createdTotal = new AtomicLong();
    private long batchesFetched;
    /** The {@code max} of the latest lease: the batch the loop wants. */
    private int lastRequested = 1;
    private long readsStarted;
    /**
     * readsStarted at the last "exceeded quota" answer; -1 when none is waiting for a fresher read. The apiserver names
     * the quota it exceeded, but another writer may fill any of them, so every quota must be read again.
     */
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
     * @param enabled       false when no quota is configured: only pause and forbidden block
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
        this.limits = new Limits(this.capacityRatio);
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

    @Override
    public boolean enabled() {
        return enabled;
    }

    // ---- the fetch loop's protocol ------------------------------------------------------------------------------

    /**
     * The permits of one fetch. Take one {@link Permit} per message received; {@link #close()} gives back what was
     * not taken. Used by one thread (the fetch loop); the permits it hands out may be resolved on any thread.
     */
    public final class Lease implements AutoCloseable {
        private final int permits;
        private int untaken;
        private boolean closed;

        private Lease(int permits) {
            this.permits = permits;
            this.untaken = permits;
        }

        /** Permits granted; 0 when the gate stayed closed for the whole wait. */
        public int permits() {
            return permits;
        }

        /** Permits not yet taken by a message. */
        public int untaken() {
            return untaken;
        }

        /** One fetched message takes one permit; it is held until resolved. */
        public Permit take() {
            return take(1).get(0);
        }

        /**
         * The messages of one fetch take one permit each, in one turn of the gate's lock: a permit moves from the
         * lease's reservation to what messages hold, which leaves the headroom as it was, so taking them when the
         * fetch is done rather than one by one as messages arrive changes no decision, only the view's
         * {@code inFlight} a moment later.
         */
        public List<Permit> take(int n) {
            if (n < 0 || n > untaken) {
                throw new IllegalStateException(n + " wanted, but only " + untaken + " of this lease's " + permits
                        + " permits are untaken");
            }
            untaken -= n;
            mutate(() -> {
                reserved -= n;
                held.addAndGet(n);
            });
            Permit[] out = new Permit[n];
            for (int i = 0; i < n; i++) {
                out[i] = new Permit();
            }
            return List.of(out);
        }

        /** Gives back the permits no message took. Idempotent. */
        @Override
        public void close() {
            if (closed || permits == 0) {
                return;
            }
            closed = true;
            int back = untaken;
            untaken = 0;
            boolean[] refresh = new boolean[1];
            mutate(() -> {
                reserved = Math.max(0, reserved - back);
                if (back < permits) {
                    batchesFetched++;
                }
                // The permits of this fetch may all have resolved before it closed: the check a permit makes when it
                // resolves last is then made here.
                refresh[0] = onlyOwnUnobservedCreatesBlock();
            });
            if (refresh[0]) {
                refreshRequester.run();
            }
        }
    }

    /** One message's permit: resolved exactly once; later calls do nothing. Thread-safe. */
    public final class Permit {
        private final AtomicBoolean resolved = new AtomicBoolean();

        private Permit() {
        }

        /** The message became an object: it stays counted until a read started after this moment. */
        public void created() {
            resolve(1, false);
        }

        /** The message did not become an object (acked as existing, nak'd, dead-lettered): the permit goes back. */
        public void returned() {
            resolve(0, false);
        }

        /**
         * The apiserver refused the create with "exceeded quota" (another writer filled it, or our read was stale):
         * the gate closes at once, before the permit goes back, until a read started after this moment says
         * otherwise.
         */
        public void quotaRejected() {
            resolve(0, true);
        }

        public boolean resolved() {
            return resolved.get();
        }

        private void resolve(int created, boolean rejected) {
            if (!resolved.compareAndSet(false, true)) {
                return;
            }
            if (created == 1) {
                createdWithoutLock();
                return;
            }
            boolean[] refresh = new boolean[1];
            mutate(() -> {
                held.decrementAndGet();
                createdTotal.addAndGet(created);
                if (rejected) {
                    rejectedAtRead = readsStarted;
                }
                refresh[0] = rejected || onlyOwnUnobservedCreatesBlock();
            });
            if (refresh[0]) {
                refreshRequester.run();
            }
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
    private void createdWithoutLock() {
        createdTotal.incrementAndGet();
        if (held.decrementAndGet() > 0) {
            return;
        }
        boolean[] refresh = new boolean[1];
        mutate(() -> refresh[0] = onlyOwnUnobservedCreatesBlock());
        if (refresh[0]) {
            refreshRequester.run();
        }
    }

    /**
     * Takes up to {@code max} permits for one fetch, waiting up to {@code maxWait} for headroom.
     *
     * @param keepWaiting checked on every wake-up; return false to give up early (shutdown)
     * @return a lease, with 0 permits when none became available in time
     */
    public Lease lease(int max, Duration maxWait, BooleanSupplier keepWaiting) throws InterruptedException {
        if (max <= 0) {
            return new Lease(0);
        }
        acquireListener.run();
        long nanos = maxWait.toNanos();
        int n;
        Runnable logLine;
        lock.lockInterruptibly();
        try {
            lastRequested = max;
            long headroom;
            while ((headroom = headroom()) <= 0) {
                if (nanos <= 0 || !keepWaiting.getAsBoolean()) {
                    return new Lease(0);
                }
                nanos = capacityChanged.awaitNanos(nanos);
            }
            n = (int) Math.min(max, headroom);
            reserved += n;
            logLine = changed();
        } finally {
            lock.unlock();
        }
        if (logLine != null) {
            logLine.run();
        }
        return new Lease(n);
    }

    /** Non-blocking {@link #lease}. */
    public Lease tryLease(int max) {
        try {
            return lease(max, Duration.ZERO, () -> false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return new Lease(0);
        }
    }

    /**
     * True while permits handed out earlier must not be used any more: paused, forbidden, the quota unknown in
     * fail-mode closed, or a create just answered "exceeded quota". A fetch still waiting for messages takes nothing
     * more, and fetched messages not yet started go back to JetStream.
     */
    public boolean permitsRevoked() {
        return revoked;
    }

    /** Wakes a waiting {@link #lease} so it re-checks its {@code keepWaiting} condition. */
    public void wakeWaiters() {
        lock.lock();
        try {
            capacityChanged.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** Called (outside the lock) when the gate needs a fresh quota read, e.g. after "exceeded quota". */
    public void onRefreshNeeded(Runnable requester) {
        this.refreshRequester = requester == null ? () -> { } : requester;
    }

    /**
     * Called on the fetch thread at the start of every {@link #lease}, outside the lock, so the quota monitor can
     * take one deferred read per fetch. Must be cheap and must not block.
     */
    public void onAcquire(Runnable listener) {
        this.acquireListener = listener == null ? () -> { } : listener;
    }

    // ---- the quota monitor's protocol ---------------------------------------------------------------------------

    /**
     * Starts a quota read. Take the ticket immediately before sending the request. One ticket may be applied to every
     * quota the request returns (a list of several), each once.
     */
    public ReadTicket beginRead() {
        lock.lock();
        try {
            return new ReadTicket(++readsStarted, createdTotal.get());
        } finally {
            lock.unlock();
        }
    }

    /**
     * Names the quotas that must be read before the gate is known: until each has a good read the quota is unknown.
     * Quotas applied later join by themselves.
     */
    public void expect(Collection<String> sources) {
        mutate(() -> sources.forEach(limits::source));
    }

    /**
     * Applies a successful read of the one quota, whose only limit costs one unit per message: the single-limit gate
     * of the original sensor. With no quota known yet it becomes the quota {@code ""}; with several, use
     * {@link #apply(ReadTicket, String, Collection)}.
     */
    public void apply(ReadTicket ticket, QuotaReading newReading) {
        String source;
        String resource = "";
        lock.lock();
        try {
            Limits.Source only = limits.only();
            if (only == null && !limits.isEmpty()) {
                throw new IllegalStateException("the gate reads several quotas: name the one this reading is of");
            }
            source = only == null ? "" : only.name;
            if (only != null && only.limits.length == 1) {
                resource = only.limits[0].reading.resource();
            }
        } finally {
            lock.unlock();
        }
        apply(ticket, source, List.of(new LimitReading(resource, newReading.hard(), newReading.used(), 1)));
    }

    /**
     * Applies a successful read of one quota: its limits are the resources it lists that a message charges (none:
     * the quota does not apply, yet counts as read). A read overtaken by a newer applied read of that quota is ignored.
     */
    public void apply(ReadTicket ticket, String source, Collection<LimitReading> readings) {
        List<LimitReading> copy = List.copyOf(readings);
        mutate(() -> {
            Limits.Source s = limits.source(source);
            if (ticket.sequence() <= s.newestApplied) {
                return;
            }
            limits.applied(s, ticket.sequence(), ticket.createdBefore(), copy);
            clearRejectionIfReadAgain();
            lastCheckedAt = clock.instant();
        });
    }

    /**
     * Records a failed read of every quota (one request that would have read them all). The gate treats the quota as
     * unknown until the next good read.
     *
     * @param configuration true when retrying cannot help (quota or resource missing, RBAC)
     */
    public void readFailed(ReadTicket ticket, String error, boolean configuration) {
        mutate(() -> {
            if (limits.isEmpty()) {
                limits.source("");
            }
            for (Limits.Source s : limits.sources()) {
                failed(s, ticket, error, configuration);
            }
        });
    }

    /** Records a failed read of one quota: the gate's quota is unknown until its next good read. */
    public void readFailed(ReadTicket ticket, String source, String error, boolean configuration) {
        mutate(() -> failed(limits.source(source), ticket, error, configuration));
    }

    /**
     * A quota is gone (deleted, with {@code quota-names: ["*"]}): it limits nothing any more, unless a read newer than
     * the ticket already applied it.
     */
    public void forget(ReadTicket ticket, String source) {
        mutate(() -> {
            for (Limits.Source s : List.copyOf(limits.sources())) {
                if (s.name.equals(source) && ticket.sequence() > s.newestApplied) {
                    limits.remove(s);
                    clearRejectionIfReadAgain();
                }
            }
        });
    }

    /** The quotas the gate reads now, in the order first seen. */
    public List<String> sources() {
        lock.lock();
        try {
            return limits.sources().stream().map(s -> s.name).toList();
        } finally {
            lock.unlock();
        }
    }

    private void failed(Limits.Source s, ReadTicket ticket, String error, boolean configuration) {
        if (ticket.sequence() <= s.newestApplied) {
            return;
        }
        limits.failed(s, error, configuration);
    }

    private void clearRejectionIfReadAgain() {
        if (rejectedAtRead >= 0 && limits.allReadAfter(rejectedAtRead)) {
            rejectedAtRead = -1;
        }
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
            if (reason != null || limits.unknown()) {
                return true;
            }
            return headroomForMessages() < 2L * lastRequested;
        } finally {
            lock.unlock();
        }
    }

    // ---- operator input -----------------------------------------------------------------------------------------

    public void pause() {
        mutate(() -> paused = true);
    }

    public void resume() {
        mutate(() -> paused = false);
    }

    /** Creates are denied for a reason no retry of the same message fixes by itself; closes until {@link #createAllowed}. */
    public void forbidden(String apiserverMessage) {
        mutate(() -> forbidden = apiserverMessage == null || apiserverMessage.isBlank() ? "forbidden" : apiserverMessage);
    }

    /** A create (or a probe create) was allowed: reopens a gate closed by {@link #forbidden}. */
    public void createAllowed() {
        if (forbidden == null) { // racy read on purpose: the common case is "never forbidden" and costs no lock
            return;
        }
        mutate(() -> forbidden = null);
    }

    // ---- read-only view -----------------------------------------------------------------------------------------

    @Override
    public boolean paused() {
        lock.lock();
        try {
            return paused;
        } finally {
            lock.unlock();
        }
    }

    @Override
    public long batchesFetched() {
        lock.lock();
        try {
            return batchesFetched;
        } finally {
            lock.unlock();
        }
    }

    @Override
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

    @Override
    public GateState state() {
        lock.lock();
        try {
            // A fetch waiting for messages reserves permits, but nothing is in flight until a message arrives: the
            // view shows what messages hold and what they could still take.
            long headroom = headroomIgnoringReservation();
            long h = held.get();
            long created = createdTotal.get();
            Limits.Limit binding = limits.binding(created);
            List<LimitState> each = new ArrayList<>(limits.all().length);
            for (Limits.Limit l : limits.all()) {
                LimitReading r = l.reading;
                long room = headroom == 0 ? 0 : Math.max(0, l.room(created) - h);
                each.add(new LimitState(l.source.name, r.resource(), r.hard(), r.used(), l.threshold, r.cost(),
                        r.cost() * h, room));
            }
            Limits.Source failedSource = limits.firstUnknown();
            String error = failedSource == null ? null : failedSource.error;
            return new GateState(enabled, reason != null, reason,
                    binding == null ? -1 : binding.reading.hard(), binding == null ? -1 : binding.reading.used(),
                    binding == null ? -1 : binding.threshold,
                    h, unobserved(null, created),
                    headroom == Long.MAX_VALUE ? -1 : headroom,
                    blockedSince, lastCheckedAt, forbidden != null ? forbidden : error,
                    failedSource != null && failedSource.configurationError,
                    List.copyOf(transitions), List.copyOf(each),
                    binding == null ? null : binding.source.name, binding == null ? null : binding.reading.resource());
        } finally {
            lock.unlock();
        }
    }

    // ---- internals (hold the lock) ------------------------------------------------------------------------------

    private long headroom() {
        if (paused || forbidden != null) {
            return 0;
        }
        if (!enabled) {
            return Long.MAX_VALUE;
        }
        if (limits.unknown()) {
            return failMode == FailMode.OPEN ? Long.MAX_VALUE : 0;
        }
        if (rejectedAtRead >= 0) {
            return 0;
        }
        long h = held.get(); // before the created count: see createdWithoutLock
        long room = limits.minRoom(createdTotal.get());
        return room == Long.MAX_VALUE ? room : Math.max(0, room - reserved - h);
    }

    private long headroomIgnoringReservation() {
        if (paused || forbidden != null) {
            return 0;
        }
        if (!enabled || limits.unknown()) {
            return headroom();
        }
        return rejectedAtRead >= 0 ? 0 : headroomForMessages();
    }

    /** Headroom ignoring an outstanding fetch's reservation: what decides whether the quota is full. */
    private long headroomForMessages() {
        long h = held.get(); // before the created count: see createdWithoutLock
        long room = limits.minRoom(createdTotal.get());
        return room == Long.MAX_VALUE ? room : Math.max(0, room - h);
    }

    /**
     * Nothing is in flight and only our own creates, not yet seen by a read, keep the gate closed: the watch event of
     * the last create can arrive (and its read start) before that create's response did, and no further event would
     * come to correct it, so a read must be asked for.
     */
    private boolean onlyOwnUnobservedCreatesBlock() {
        return enabled && !limits.unknown() && held.get() == 0 && reserved == 0
                && limits.maxUnobserved(createdTotal.get()) > 0 && headroomForMessages() <= 0;
    }

    /** Our creates the binding limit's quota (with none, the quota read longest ago) cannot include yet. */
    private long unobserved(Limits.Limit binding, long created) {
        if (binding != null) {
            return created - binding.source.createdObserved;
        }
        return limits.isEmpty() ? created : limits.maxUnobserved(created);
    }

    private boolean computeRevoked() {
        return paused || forbidden != null || (enabled && limits.unknown() && failMode == FailMode.CLOSED)
                || (enabled && rejectedAtRead >= 0);
    }

    private BlockedReason computeReason() {
        if (paused) {
            return BlockedReason.PAUSED;
        }
        if (forbidden != null) {
            return BlockedReason.FORBIDDEN;
        }
        if (!enabled) {
            return null;
        }
        if (limits.unknown()) {
            return failMode == FailMode.CLOSED ? BlockedReason.QUOTA_UNKNOWN : null;
        }
        if (rejectedAtRead >= 0) {
            return BlockedReason.QUOTA_FULL;
        }
        return headroomForMessages() <= 0 ? BlockedReason.QUOTA_FULL : null;
    }

    /** Runs {@code change} under the lock, re-derives the state, and logs a transition after unlocking. */
    private void mutate(Runnable change) {
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

    /**
     * Re-derives the blocked reason after any change; records a transition, wakes the loop.
     *
     * @return the log line to write once the lock is released, or null
     */
    private Runnable changed() {
        revoked = computeRevoked();
        BlockedReason now = computeReason();
        Runnable logLine = null;
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
            long h = held.get();
            long created = createdTotal.get();
            Limits.Limit binding = limits.binding(created);
            long used = binding == null ? -1 : binding.reading.used();
            long holding = h + unobserved(binding, created);
            transitions.addLast(new GateTransition(at, now == null, now, used, holding,
                    binding == null ? -1 : binding.threshold));
            while (transitions.size() > TRANSITIONS_KEPT) {
                transitions.removeFirst();
            }
            // Only open <-> full can flap with every fetch; an outage, a denial or a pause is reported at once.
            boolean routine = (now == null || now == BlockedReason.QUOTA_FULL)
                    && (previous == null || previous == BlockedReason.QUOTA_FULL);
            if (!routine || nanoNow - lastLoggedNanos >= LOG_WINDOW_NANOS) {
                logLine = logState(nanoNow);
            } else {
                unlogged++;
            }
        } else if (unlogged > 0 && System.nanoTime() - lastLoggedNanos >= LOG_WINDOW_NANOS) {
            logLine = logState(System.nanoTime());
        }
        if (headroom() > 0) {
            capacityChanged.signalAll();
        }
        return logLine;
    }

    /** Captures the state to log now; the returned line is written after the lock is released. */
    private Runnable logState(long nanoNow) {
        long h = held.get();
        long created = createdTotal.get();
        Limits.Limit binding = limits.binding(created);
        long used = binding == null ? -1 : binding.reading.used();
        long holding = reserved + h + unobserved(binding, created);
        String flapping = unlogged == 0 ? ""
                : " (" + unlogged + " more transitions in the last " + (nanoNow - lastLoggedNanos) / 1_000_000_000L + "s)";
        lastLoggedNanos = nanoNow;
        unlogged = 0;
        BlockedReason r = reason;
        long t = binding == null ? -1 : binding.threshold;
        Limits.Source failedSource = limits.firstUnknown();
        String error = failedSource == null ? null : failedSource.error;
        String denied = forbidden;
        if (r == null) {
            return () -> log.info("Quota gate open: used {} + held {} of threshold {}{}", used, holding, t, flapping);
        }
        if (r == BlockedReason.QUOTA_UNKNOWN) {
            return () -> log.warn("Quota gate closed ({}): {}{}", r.label(), error == null ? "quota not read yet" : error, flapping);
        }
        if (r == BlockedReason.FORBIDDEN) {
            return () -> log.warn("Quota gate closed ({}): creates are denied, retrying with a dry-run create until "
                    + "allowed: {}", r.label(), denied);
        }
        return () -> log.info("Quota gate closed ({}): used {} + held {} of threshold {}{}", r.label(), used, holding, t, flapping);
    }
}
