package io.quotagate.gate;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.time.Clock;
import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

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
 * <h2>A message's real cost</h2>
 * Permits are sized from the template's cost. Before its create, a message whose parameters change its object's cost
 * is {@linkplain Permit#charge charged} the difference: for every limit, the units its object charges beyond the
 * limit's cost must fit in that limit's free units (threshold − used − every message's cost − extra units already
 * held or created unobserved). The permit then holds those extra units like it holds its message: created, they stay
 * counted until a read of the quota includes them; returned or rejected, they go back. A real cost below the
 * template's is not refunded (it only errs towards over-counting). {@link Limits} keeps them per (quota, resource).
 *
 * <h2>Where things are</h2>
 * This class is the consumer's protocol (lease, permit) and the facade of the rest: {@link GateCore} holds the state,
 * the one lock and the one condition, and derives headroom and blocked reason; {@link QuotaReads} is the monitor's
 * read protocol; {@link Transitions} keeps blocked time and transitions and makes the log lines (written after the
 * lock is released); {@link StateSnapshot} is the read-only {@link GateView}.
 *
 * <p>Thread-safe; one lock guards all state (except the one step of a created permit, which changes no decision:
 * see {@link GateCore#createdWithoutLock}) and one condition wakes the fetch loop the moment headroom appears.
 */
public final class CapacityGate implements GateView {

    static final int TRANSITIONS_KEPT = Transitions.KEPT;

    /** Identifies one quota read; obtain it <em>before</em> sending the request. */
    public record ReadTicket(long sequence, long createdBefore) {
    }

    private final GateCore core;
    private final QuotaReads reads;
    private final StateSnapshot view;
    private final ExtraUnits extraUnits;
    private final Sharing sharing;
    /** Where reads go when replicas share the quota; null while this process decides alone. */
    private volatile SharedReads shared;
    /** The quota monitor's read request, as given to {@link #onRefreshNeeded}. */
    private volatile Runnable readRequester = () -> { };

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
        // valueOf keeps the decimal the user wrote: 0.29 × 100 is 29, not 28.999…
        this.core = new GateCore(enabled, BigDecimal.valueOf(capacityRatio), failMode, clock);
        this.reads = new QuotaReads(core);
        this.view = new StateSnapshot(core);
        this.extraUnits = new ExtraUnits(core);
        this.sharing = new Sharing(core, reads);
    }

    /** floor(hard × ratio), but at least 1 while hard ≥ 1 so a tiny quota is usable at all. */
    public static long thresholdFor(long hard, BigDecimal ratio) {
        if (hard <= 0) {
            return 0;
        }
        long t = BigDecimal.valueOf(hard).multiply(ratio).setScale(0, RoundingMode.FLOOR).longValueExact();
        return Math.max(1, t);
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
            core.reservedTaken(n);
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
            core.reservedReturned(back, permits);
        }
    }

    /** One message's permit: resolved exactly once; later calls do nothing. Thread-safe. */
    public final class Permit {
        private final AtomicBoolean resolved = new AtomicBoolean();
        /** Extra units this permit holds ({@link #charge}); guarded by the gate's lock, null while none. */
        volatile List<ExtraUnits.Extra> extras;

        private Permit() {
        }

        /**
         * Charges the message's real cost before its create. For every limit, the units {@code real} says its object
         * charges beyond the limit's cost (what this permit was sized with, plus what an earlier charge already holds)
         * must fit in that limit's free units; if all fit, this permit holds them until it is resolved, else nothing
         * changes. A real cost at or below the template's needs nothing and always fits. When only the reservation of
         * a fetch under way stands in the way (the fetch loop leased the room for its next batch), it waits up to
         * {@link #chargeWait} for that fetch to end, and no new lease is granted meanwhile: otherwise a dear message
         * would find every bit of room reserved by the next fetch, every time, and never be created.
         *
         * @return true when the message may be created; false when its real cost no longer fits, or the permit is
         *         already resolved (hand the message back to JetStream and return the permit)
         */
        public boolean charge(Charge real) {
            return extraUnits.charge(this, real);
        }

        /** The message became an object: it stays counted until a read started after this moment. */
        public void created() {
            if (!resolved.compareAndSet(false, true)) {
                return;
            }
            if (!extraUnits.holdsAny(this)) {
                core.createdWithoutLock();
                return;
            }
            core.mutateThenMaybeRefresh(() -> {
                extraUnits.created(this);
                return core.onlyOwnUnobservedCreatesBlock();
            });
        }

        /** The message did not become an object (acked as existing, nak'd, dead-lettered): the permit goes back. */
        public void returned() {
            release(false);
        }

        /**
         * The apiserver refused the create with "exceeded quota" (another writer filled it, or our read was stale):
         * the gate closes at once, before the permit goes back, until a read started after this moment says
         * otherwise.
         */
        public void quotaRejected() {
            release(true);
        }

        public boolean resolved() {
            return resolved.get();
        }

        private void release(boolean rejected) {
            if (!resolved.compareAndSet(false, true)) {
                return;
            }
            core.mutateThenMaybeRefresh(() -> {
                extraUnits.released(this);
                return core.heldReturned(rejected);
            });
        }
    }

    /**
     * Takes up to {@code max} permits for one fetch, waiting up to {@code maxWait} for headroom.
     *
     * @param keepWaiting checked on every wake-up; return false to give up early (shutdown)
     * @return a lease, with 0 permits when none became available in time
     */
    public Lease lease(int max, Duration maxWait, BooleanSupplier keepWaiting) throws InterruptedException {
        return new Lease(max <= 0 ? 0 : core.reserve(max, maxWait, keepWaiting));
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
        return core.revoked;
    }

    /**
     * How long {@link Permit#charge} may wait for a fetch's reservation to end when only that reservation keeps a
     * message's real cost from fitting: longer than a fetch holds its lease (a few pulls of
     * {@code jetstream.fetch-max-wait}). Zero: never wait (the charge then fails, and the message is requeued).
     * Default 2 s; the application sets it from fetch-max-wait.
     */
    public void chargeWait(Duration wait) {
        core.chargeWaitNanos = Math.max(0, wait.toNanos());
    }

    /** Wakes a waiting {@link #lease} so it re-checks its {@code keepWaiting} condition. */
    public void wakeWaiters() {
        core.lock.lock();
        try {
            core.capacityChanged.signalAll();
        } finally {
            core.lock.unlock();
        }
    }

    /** Called (outside the lock) when the gate needs a fresh quota read, e.g. after "exceeded quota". */
    public void onRefreshNeeded(Runnable requester) {
        Runnable r = requester == null ? () -> { } : requester;
        readRequester = r;
        core.refreshRequester = () -> {
            SharedReads s = shared;
            if (s != null && !s.readsHere()) {
                s.freshReadWanted(); // another replica reads: ask it
            } else {
                r.run();
            }
        };
    }

    /**
     * Called on the fetch thread at the start of every {@link #lease}, outside the lock, so the quota monitor can
     * take one deferred read per fetch. Must be cheap and must not block.
     */
    public void onAcquire(Runnable listener) {
        core.acquireListener = listener == null ? () -> { } : listener;
    }

    // ---- the quota monitor's protocol (see QuotaReads) ----------------------------------------------------------

    /** Starts a quota read: take the ticket immediately before sending the request; apply it to each quota once. */
    public ReadTicket beginRead() {
        SharedReads s = shared;
        return s != null ? s.beginRead() : reads.beginRead();
    }

    /** Names the quotas that must be read before the gate is known; quotas applied later join by themselves. */
    public void expect(Collection<String> sources) {
        SharedReads s = shared;
        if (s != null) {
            s.expect(sources);
        }
        reads.expect(sources);
    }

    /**
     * Applies a successful read of the one quota, whose only limit costs one unit per message: the single-limit gate
     * of the original sensor. With no quota known yet it becomes the quota {@code ""}; with several, use
     * {@link #apply(ReadTicket, String, Collection)}.
     */
    public void apply(ReadTicket ticket, QuotaReading newReading) {
        SharedReads s = shared;
        if (s != null) {
            Map.Entry<String, LimitReading> only = reads.asOnly(newReading);
            s.apply(ticket, only.getKey(), List.of(only.getValue()));
        } else {
            reads.apply(ticket, newReading);
        }
    }

    /**
     * Applies a successful read of one quota: its limits are the resources it lists that a message charges or may be
     * charged (none: the quota does not apply, yet counts as read). An overtaken read is ignored.
     */
    public void apply(ReadTicket ticket, String source, Collection<LimitReading> readings) {
        SharedReads s = shared;
        if (s != null) {
            s.apply(ticket, source, List.copyOf(readings));
        } else {
            reads.apply(ticket, source, readings);
        }
    }

    /**
     * Records a failed read of every quota (one request that would have read them all): unknown until a good read.
     *
     * @param configuration true when retrying cannot help (quota or resource missing, RBAC)
     */
    public void readFailed(ReadTicket ticket, String error, boolean configuration) {
        SharedReads s = shared;
        if (s != null) {
            s.readFailed(ticket, null, error, configuration);
        } else {
            reads.readFailed(ticket, error, configuration);
        }
    }

    /** Records a failed read of one quota: the gate's quota is unknown until its next good read. */
    public void readFailed(ReadTicket ticket, String source, String error, boolean configuration) {
        SharedReads s = shared;
        if (s != null) {
            s.readFailed(ticket, source, error, configuration);
        } else {
            reads.readFailed(ticket, source, error, configuration);
        }
    }

    /** A quota is gone (deleted, with {@code quota-names: ["*"]}): it limits nothing, unless a newer read applied it. */
    public void forget(ReadTicket ticket, String source) {
        SharedReads s = shared;
        if (s != null) {
            s.forget(ticket, source);
        } else {
            reads.forget(ticket, source);
        }
    }

    /** The quotas the gate reads now, in the order first seen. */
    public List<String> sources() {
        return reads.sources();
    }

    /**
     * Whether a change of the quota should be read at once rather than at the next fetch: the gate is closed (for
     * any reason), the quota is not known yet, or the headroom no longer covers two of the batches the loop asks
     * for. While it is false the gate lets whole batches through anyway, so a fresher read could not change the
     * next decision (the margin of a second batch absorbs what other writers may add meanwhile).
     */
    public boolean wantsFreshRead() {
        return reads.wantsFreshRead();
    }

    // ---- replicas sharing the quota (io.quotagate.coordination) -------------------------------------------------

    /**
     * From now on the read protocol above goes to {@code sharedReads}, and this gate's readings come only through
     * {@link #applyShared}. Call once, before the monitors start.
     */
    public void shareReadsThrough(SharedReads sharedReads) {
        this.shared = sharedReads;
    }

    /** True while this process should read the quotas: always, unless replicas share them and another one reads. */
    public boolean readsHere() {
        SharedReads s = shared;
        return s == null || s.readsHere();
    }

    /**
     * Applies the replicas' shared reading and, with it, this process's caps: per quota and resource, the units beyond
     * that reading this process may hold (missing: 0). A quota the reading does not have is dropped; an older
     * reading of a quota than the one applied is ignored.
     *
     * @param newestSequence the newest reading's sequence: a create refused for quota after now waits for a newer one
     */
    public void applyShared(Map<String, SharedSource> sources, Map<String, Map<String, Long>> caps,
                            long newestSequence) {
        sharing.applyShared(sources, caps, newestSequence);
    }

    /** New caps for the reading already applied; null: none (this process decides alone again). */
    public void caps(Map<String, Map<String, Long>> caps) {
        sharing.caps(caps);
    }

    /** What this process holds, in every limit's units. */
    public OwnUsage usage() {
        return sharing.usage();
    }

    /**
     * The coordination with the replicas fails ({@code error}) or works again (null). In fail-mode closed the gate
     * closes ({@link BlockedReason#COORDINATION}) and its permits are revoked; in fail-mode open this process goes on
     * alone, uncapped, on the last shared reading, until the coordination applies its caps again.
     */
    public void coordinationFailing(String error) {
        sharing.coordinationFailing(error);
    }

    /**
     * The others may take this process's share back from {@code endBy} on (its lease with them runs out then): every
     * create must have ended by then, so none starts after {@code startBy}, and each is given at most
     * {@link #createWindowMillis()}. Epoch millis of this gate's clock; the coordination moves both on with every
     * heartbeat it writes.
     */
    public void createsBounded(long startBy, long endBy) {
        sharing.createsBounded(startBy, endBy);
    }

    /**
     * How long a create started now may take, in millis: 0 when none may start now, {@link Long#MAX_VALUE} when
     * only the trigger's own request timeout bounds it (no coordination, or fail-mode open while it fails).
     */
    public long createWindowMillis() {
        return sharing.createWindowMillis();
    }

    /**
     * Waits up to {@code maxWait} until a create may start ({@link #createWindowMillis()} above 0), while
     * {@code keepWaiting} holds: before this replica's first heartbeat, or once its lease with the others runs short.
     * A message fetched meanwhile could only be handed back.
     *
     * @return true when a create may start now
     */
    public boolean awaitCreateWindow(Duration maxWait, BooleanSupplier keepWaiting) throws InterruptedException {
        return sharing.awaitCreateWindow(maxWait.toNanos(), keepWaiting);
    }

    /** Another replica needs a reading started after now: this process reads for it. */
    public void requestFreshRead() {
        readRequester.run();
    }

    /** Told, under the gate's lock, when a fetch or a charge comes up short while caps bound: it must only signal. */
    public void onCapBound(Runnable listener) {
        core.capBoundListener = listener == null ? () -> { } : listener;
    }

    // ---- operator input -----------------------------------------------------------------------------------------

    public void pause() {
        core.mutate(() -> core.paused = true);
    }

    public void resume() {
        core.mutate(() -> core.paused = false);
    }

    /** Creates are denied for a reason no retry of the same message fixes by itself; closes until {@link #createAllowed}. */
    public void forbidden(String apiserverMessage) {
        core.mutate(() -> core.forbidden = apiserverMessage == null || apiserverMessage.isBlank()
                ? "forbidden" : apiserverMessage);
    }

    /** A create (or a probe create) was allowed: reopens a gate closed by {@link #forbidden}. */
    public void createAllowed() {
        if (core.forbidden == null) { // racy read on purpose: the common case is "never forbidden" and costs no lock
            return;
        }
        core.mutate(() -> core.forbidden = null);
    }

    // ---- read-only view (see StateSnapshot) ---------------------------------------------------------------------

    @Override
    public boolean enabled() {
        return view.enabled();
    }

    @Override
    public boolean paused() {
        return view.paused();
    }

    @Override
    public long batchesFetched() {
        return view.batchesFetched();
    }

    @Override
    public double blockedSeconds(BlockedReason r) {
        return view.blockedSeconds(r);
    }

    @Override
    public GateState state() {
        return view.state();
    }
}
