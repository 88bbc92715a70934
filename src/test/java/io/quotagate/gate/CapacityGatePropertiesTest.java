package io.quotagate.gate;

import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.LongStream;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;
import org.junit.jupiter.api.parallel.ResourceLock;
import io.quotagate.support.SharedLogging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;
import static org.awaitility.Awaitility.await;

/**
 * The gate's one promise, checked against a model apiserver: whatever the interleaving of leases, permits taken and
 * resolved, creates, completions, controller lag and stale, overtaken or failed quota reads, the quota's used count
 * plus the permits this process holds for messages not yet created never exceed the threshold, so a create is never
 * refused. And its bookkeeping: once everything is resolved and a fresh read is in, nothing is left over.
 */
@ResourceLock(SharedLogging.LOCK)
class CapacityGatePropertiesTest {

    private static Level gateLogLevel;

    /** Thousands of transitions per run: their log lines would cost more time than the runs themselves. */
    @BeforeAll
    static void quietGateLog() {
        Logger logger = (Logger) LoggerFactory.getLogger(CapacityGate.class);
        gateLogLevel = logger.getLevel();
        logger.setLevel(Level.ERROR);
    }

    @AfterAll
    static void restoreGateLog() {
        ((Logger) LoggerFactory.getLogger(CapacityGate.class)).setLevel(gateLogLevel);
    }

    /**
     * The apiserver as the gate experiences it: admission is synchronous (status.used counts a create before the
     * create returns), usage decrements lag behind completions (the quota controller). Every change of status.used
     * is a new version; a read may describe any version from when it was sent to when its response arrives.
     */
    static final class ModelApiserver {
        final long hard;
        long statusUsed;
        long objects;
        long pendingDecrements;
        long rejections;
        /** status.used after each change; index = version. */
        final List<Long> history = new ArrayList<>();

        ModelApiserver(long hard, long used) {
            this.hard = hard;
            this.statusUsed = used;
            this.objects = used;
            history.add(used);
        }

        synchronized boolean create() {
            if (statusUsed + 1 > hard) {
                rejections++;
                return false;
            }
            statusUsed++;
            objects++;
            history.add(statusUsed);
            return true;
        }

        /** A create that skips the quota check: the caller decided its outcome, the object exists anyway. */
        synchronized void forceCreate() {
            statusUsed++;
            objects++;
            history.add(statusUsed);
        }

        synchronized void complete() {
            if (objects > 0) {
                objects--;
                pendingDecrements++;
            }
        }

        synchronized void controller() {
            if (pendingDecrements > 0) {
                pendingDecrements--;
                statusUsed--;
                history.add(statusUsed);
            }
        }

        /** The version a request sent now will see at the earliest. */
        synchronized int version() {
            return history.size() - 1;
        }

        synchronized long read() {
            return statusUsed;
        }

        /** status.used as of some version from {@code sentAt} to now: what a GET sent at {@code sentAt} may return. */
        synchronized long readAsOf(int sentAt, Random random) {
            int now = history.size() - 1;
            // The extremes are the interesting cases: as stale as allowed, or as fresh as possible.
            int version = switch (random.nextInt(3)) {
                case 0 -> sentAt;
                case 1 -> now;
                default -> sentAt + random.nextInt(now - sentAt + 1);
            };
            return history.get(version);
        }
    }

    /** A quota read on the wire: its ticket, and the apiserver version when the request was sent. */
    private record PendingRead(CapacityGate.ReadTicket ticket, int sentAt) {
    }

    /** A fetched message: its permit, and whether its create already returned (the object exists). */
    private static final class Held {
        final CapacityGate.Permit permit;
        boolean createReturned;

        Held(CapacityGate.Permit permit) {
            this.permit = permit;
        }
    }

    /** What the model knows the gate holds: open leases and the permits of messages not resolved yet. */
    private static final class Caller {
        final List<CapacityGate.Lease> leases = new ArrayList<>();
        final List<Held> held = new ArrayList<>();
        final List<PendingRead> reads = new ArrayList<>();

        long untaken() {
            return leases.stream().mapToLong(CapacityGate.Lease::untaken).sum();
        }

        /** Permits out for messages that are not an object yet: what may still turn into a create. */
        long notCreated() {
            return untaken() + held.stream().filter(h -> !h.createReturned).count();
        }

        Held pick(Random random, boolean createReturned) {
            List<Held> candidates = held.stream().filter(h -> h.createReturned == createReturned).toList();
            return candidates.isEmpty() ? null : candidates.get(random.nextInt(candidates.size()));
        }

        void take(Random random) {
            List<CapacityGate.Lease> open = leases.stream().filter(l -> l.untaken() > 0).toList();
            if (!open.isEmpty()) {
                held.add(new Held(open.get(random.nextInt(open.size())).take()));
            }
        }

        void closeOne(Random random) {
            if (!leases.isEmpty()) {
                leases.remove(random.nextInt(leases.size())).close();
            }
        }
    }

    /** How the worker ends; the permit is always returned in a finally, as the consumer's settler does. */
    private enum Outcome { CREATED, RETURNED, QUOTA_REJECTED, THROWS_BEFORE_RESOLVING, THROWS_AFTER_RESOLVING }

    /** One worker's handling of one message, shaped as the consumer's: resolve, then give back in a finally. */
    private static void settle(Held h, Outcome outcome, boolean resolveTwice, Random random) {
        try {
            switch (outcome) {
                case CREATED -> h.permit.created();
                case RETURNED -> h.permit.returned();
                case QUOTA_REJECTED -> h.permit.quotaRejected();
                case THROWS_BEFORE_RESOLVING -> throw new IllegalStateException("bug before the permit was resolved");
                case THROWS_AFTER_RESOLVING -> {
                    h.permit.returned();
                    throw new IllegalStateException("bug after the permit was resolved");
                }
            }
            if (resolveTwice) {
                switch (random.nextInt(3)) {
                    case 0 -> h.permit.created();
                    case 1 -> h.permit.returned();
                    default -> h.permit.quotaRejected();
                }
            }
        } catch (IllegalStateException expected) {
            // the worker's bug; the message is nak'd and the permit must still go back
        } finally {
            h.permit.returned();
        }
        assertThat(h.permit.resolved()).isTrue();
    }

    static LongStream seeds() {
        // Fixed seeds keep the build reproducible; a failure names its seed, which replays it exactly.
        return LongStream.range(0, 500).map(i -> 0x9E3779B97F4A7C15L * (i + 1));
    }

    /** More runs for safety: the interleavings that break a wrong gate (a stale read at capacity) are rare. */
    static LongStream moreSeeds() {
        return LongStream.range(0, 1_500).map(i -> 0x9E3779B97F4A7C15L * (i + 1));
    }

    /**
     * Safety. Reads may describe the quota as of any moment between their request and their response (so a read
     * sent before a create returned may or may not include it; one sent after must), may arrive in any order (the
     * gate ignores one overtaken by a newer applied read), or fail. Meanwhile used + the permits out for messages
     * not created yet stay within the threshold, and the apiserver never answers "exceeded quota".
     */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("moreSeeds")
    void usedPlusInFlightNeverExceedsTheThresholdWhateverTheReads(long seed) {
        Random random = new Random(seed);
        long hard = 1 + random.nextInt(random.nextBoolean() ? 5 : 40);
        double ratio = random.nextInt(3) > 0 ? 1.0 : 0.05 + random.nextDouble() * 0.95;
        long threshold = CapacityGate.thresholdFor(hard, BigDecimal.valueOf(ratio));
        int steps = 1 + random.nextInt(400);
        CapacityGate gate = new CapacityGate(true, ratio, FailMode.CLOSED, Clock.systemUTC());
        ModelApiserver api = new ModelApiserver(hard, random.nextInt((int) hard + 1));
        Caller caller = new Caller();
        List<String> trace = new ArrayList<>();
        // Each run mixes the operations differently: some run at capacity (few completions), some with many reads.
        int[] weights = random.ints(14, 0, 5).toArray();
        weights[0] += 1; // lease
        weights[1] += 1; // take
        weights[4] += 1; // create
        weights[6] += 1; // report created
        weights[11] += 1; // read response
        int totalWeight = java.util.Arrays.stream(weights).sum();
        for (int step = 0; step < steps; step++) {
            int op = pick(weights, totalWeight, random);
            switch (op) {
                case 0 -> {
                    if (caller.leases.size() < 2) {
                        CapacityGate.Lease lease = gate.tryLease(1 + random.nextInt(10));
                        caller.leases.add(lease);
                        trace.add("lease " + lease.permits());
                    }
                }
                case 1, 2 -> {
                    caller.take(random);
                    trace.add("take");
                }
                case 3 -> {
                    caller.closeOne(random);
                    trace.add("close lease");
                }
                case 4, 5 -> { // a worker sends the create
                    Held h = caller.pick(random, false);
                    if (h != null) {
                        if (api.create()) {
                            h.createReturned = true;
                            trace.add("create returned (used " + api.statusUsed + ")");
                        } else {
                            trace.add("create REJECTED for quota (used " + api.statusUsed + ")");
                            caller.held.remove(h);
                            settle(h, Outcome.QUOTA_REJECTED, false, random);
                        }
                    }
                }
                case 6 -> { // ... and reports it, maybe twice
                    Held h = caller.pick(random, true);
                    if (h != null) {
                        caller.held.remove(h);
                        settle(h, Outcome.CREATED, random.nextInt(4) == 0, random);
                        trace.add("created");
                    }
                }
                case 7 -> { // no create: acked as existing, nak'd, or a bug before the create
                    Held h = caller.pick(random, false);
                    if (h != null) {
                        caller.held.remove(h);
                        Outcome o = List.of(Outcome.RETURNED, Outcome.THROWS_BEFORE_RESOLVING,
                                Outcome.THROWS_AFTER_RESOLVING).get(random.nextInt(3));
                        settle(h, o, random.nextInt(4) == 0, random);
                        trace.add("no create: " + o);
                    }
                }
                case 8 -> {
                    api.complete();
                    trace.add("complete");
                }
                case 9 -> {
                    api.controller();
                    trace.add("controller (used " + api.statusUsed + ")");
                }
                case 10 -> {
                    int sentAt = api.version();
                    PendingRead r = new PendingRead(gate.beginRead(), sentAt);
                    caller.reads.add(r);
                    trace.add("read " + r.ticket().sequence() + " sent");
                }
                case 11, 12 -> {
                    if (!caller.reads.isEmpty()) {
                        PendingRead r = caller.reads.remove(random.nextInt(caller.reads.size()));
                        long used = api.readAsOf(r.sentAt(), random);
                        gate.apply(r.ticket(), new QuotaReading(hard, used));
                        trace.add("read " + r.ticket().sequence() + " applied: used " + used + " (now "
                                + api.statusUsed + ")");
                    }
                }
                default -> {
                    if (!caller.reads.isEmpty()) {
                        PendingRead r = caller.reads.remove(random.nextInt(caller.reads.size()));
                        gate.readFailed(r.ticket(), "timed out", false);
                        trace.add("read " + r.ticket().sequence() + " failed");
                    }
                }
            }
            GateState s = gate.state();
            long notCreated = caller.notCreated();
            if (s.inFlight() != caller.held.size()) {
                fail("seed %d: gate's in-flight %d, the model's %d", seed, s.inFlight(),
                        caller.held.size());
            }
            // Used may start above the threshold (someone else filled it); permits are only out within it.
            // (A permit whose create returned is in used already, so it is not counted twice.)
            if (notCreated > 0 && api.statusUsed + notCreated > threshold || api.rejections > 0) {
                fail("seed %d, hard %d, threshold %d: used %d + permits out for messages not created yet %d, "
                        + "%d exceeded-quota answers; the last steps:%n%s", seed, hard, threshold, api.statusUsed,
                        notCreated, api.rejections, String.join("\n", tail(trace)));
            }
        }
    }

    /** A read of one quota on the wire: its ticket (perhaps shared by a list of all quotas) and the version sent at. */
    private record PendingQuotaRead(CapacityGate.ReadTicket ticket, int quota, int sentAt) {
    }

    /**
     * Safety with several limits: up to three quotas, each listing some of up to three resources that an object
     * charges at different costs (1, 2, 3, 250, 500 per message), some listing none. Reads of single quotas and lists
     * of all of them are stale, overtaken or failed in any order; each quota's controller lags on its own. At every
     * step, for every limit, used + cost × (permits out for messages not created yet) stays within its threshold, and
     * admission never answers "exceeded quota". At rest, with fresh reads of every quota in, the headroom is exactly
     * the least floor((threshold − used) ÷ cost) over the limits.
     */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("moreSeeds")
    void severalLimitsWithDifferentCostsNeverExceedTheirThresholds(long seed) {
        Random random = new Random(seed);
        double ratio = random.nextInt(3) > 0 ? 1.0 : 0.05 + random.nextDouble() * 0.95;
        ModelNamespace api = new ModelNamespace(random, 1 + random.nextInt(3), 1 + random.nextInt(3));
        CapacityGate gate = new CapacityGate(true, ratio, FailMode.CLOSED, Clock.systemUTC());
        List<String> names = new ArrayList<>();
        for (int q = 0; q < api.quotas(); q++) {
            names.add(ModelNamespace.name(q));
        }
        gate.expect(names);
        Caller caller = new Caller();
        List<PendingQuotaRead> reads = new ArrayList<>();
        List<String> trace = new ArrayList<>();
        int[] weights = random.ints(12, 0, 5).toArray();
        weights[0] += 1; // lease
        weights[1] += 1; // take
        weights[3] += 1; // create
        weights[4] += 1; // report created
        weights[10] += 1; // read response
        int totalWeight = java.util.Arrays.stream(weights).sum();
        int steps = 1 + random.nextInt(400);
        for (int step = 0; step < steps; step++) {
            switch (pick(weights, totalWeight, random)) {
                case 0 -> {
                    if (caller.leases.size() < 2) {
                        CapacityGate.Lease lease = gate.tryLease(1 + random.nextInt(10));
                        caller.leases.add(lease);
                        trace.add("lease " + lease.permits());
                    }
                }
                case 1 -> caller.take(random);
                case 2 -> caller.closeOne(random);
                case 3 -> {
                    Held h = caller.pick(random, false);
                    if (h != null) {
                        if (api.create()) {
                            h.createReturned = true;
                            trace.add("create returned");
                        } else {
                            trace.add("create REJECTED for quota");
                            caller.held.remove(h);
                            settle(h, Outcome.QUOTA_REJECTED, false, random);
                        }
                    }
                }
                case 4 -> {
                    Held h = caller.pick(random, true);
                    if (h != null) {
                        caller.held.remove(h);
                        settle(h, Outcome.CREATED, random.nextInt(4) == 0, random);
                        trace.add("created");
                    }
                }
                case 5 -> {
                    Held h = caller.pick(random, false);
                    if (h != null) {
                        caller.held.remove(h);
                        settle(h, Outcome.RETURNED, random.nextInt(4) == 0, random);
                        trace.add("no create");
                    }
                }
                case 6 -> {
                    api.delete();
                    trace.add("delete");
                }
                case 7 -> {
                    int q = random.nextInt(api.quotas());
                    api.controller(q);
                    trace.add("controller of " + q);
                }
                case 8 -> { // a GET of one quota
                    int q = random.nextInt(api.quotas());
                    int sentAt = api.version(q);
                    reads.add(new PendingQuotaRead(gate.beginRead(), q, sentAt));
                    trace.add("read of " + q + " sent");
                }
                case 9 -> { // a list of all quotas: one ticket, each quota as of its own moment
                    CapacityGate.ReadTicket ticket = gate.beginRead();
                    for (int q = 0; q < api.quotas(); q++) {
                        reads.add(new PendingQuotaRead(ticket, q, api.version(q)));
                    }
                    trace.add("list sent");
                }
                case 10 -> {
                    if (!reads.isEmpty()) {
                        PendingQuotaRead r = reads.remove(random.nextInt(reads.size()));
                        List<LimitReading> got = api.readAsOf(r.quota(), r.sentAt(), random);
                        gate.apply(r.ticket(), ModelNamespace.name(r.quota()), got);
                        trace.add("read " + r.ticket().sequence() + " of " + r.quota() + " applied: " + got);
                    }
                }
                default -> {
                    if (!reads.isEmpty()) {
                        PendingQuotaRead r = reads.remove(random.nextInt(reads.size()));
                        gate.readFailed(r.ticket(), ModelNamespace.name(r.quota()), "timed out", false);
                        trace.add("read " + r.ticket().sequence() + " of " + r.quota() + " failed");
                    }
                }
            }
            long notCreated = caller.notCreated();
            for (int q = 0; q < api.quotas(); q++) {
                for (int r = 0; r < api.resources.length; r++) {
                    if (!api.lists(q, r)) {
                        continue;
                    }
                    long threshold = CapacityGate.thresholdFor(api.hard[q][r], BigDecimal.valueOf(ratio));
                    if (notCreated > 0 && api.used[q][r] + api.cost[r] * notCreated > threshold) {
                        fail("seed %d, quota %d %s (cost %d, hard %d, threshold %d): used %d + %d permits out; the "
                                + "last steps:%n%s", seed, q, api.resources[r], api.cost[r], api.hard[q][r],
                                threshold, api.used[q][r], notCreated, String.join("\n", tail(trace)));
                    }
                }
            }
            if (api.rejections > 0) {
                fail("seed %d: exceeded quota; the last steps:%n%s", seed, String.join("\n", tail(trace)));
            }
            assertThat(gate.state().inFlight()).as("seed %d", seed).isEqualTo(caller.held.size());
        }

        for (Held h : List.copyOf(caller.held)) {
            settle(h, h.createReturned ? Outcome.CREATED : Outcome.RETURNED, false, random);
        }
        caller.held.clear();
        while (!caller.leases.isEmpty()) {
            caller.closeOne(random);
        }
        CapacityGate.ReadTicket fresh = gate.beginRead();
        for (int q = 0; q < api.quotas(); q++) {
            gate.apply(fresh, ModelNamespace.name(q), api.read(q));
        }
        GateState s = gate.state();
        assertThat(s.createdUnobserved()).as("seed %d: unobserved at rest", seed).isZero();
        assertThat(s.headroom()).as("seed %d: headroom at rest", seed).isEqualTo(api.fits(ratio));
        assertThat(s.limits()).as("seed %d", seed).hasSize((int) java.util.Arrays.stream(api.hard)
                .flatMapToLong(java.util.Arrays::stream).filter(h -> h >= 0).count());
    }

    /** An index drawn with probability proportional to its weight. */
    private static int pick(int[] weights, int totalWeight, Random random) {
        int r = random.nextInt(totalWeight);
        for (int i = 0; i < weights.length; i++) {
            r -= weights[i];
            if (r < 0) {
                return i;
            }
        }
        throw new AssertionError();
    }

    private static List<String> tail(List<String> trace) {
        return trace.subList(Math.max(0, trace.size() - 40), trace.size());
    }

    /**
     * Bookkeeping. Random leases, takes, outcomes (created, returned, rejected for quota, resolved twice, a worker
     * that throws between take and resolve), leases closed with untaken permits, reads (stale, overtaken, failed),
     * pauses and denials. At rest — every permit resolved, every lease closed, a fresh read in that includes every
     * created object — the gate holds nothing and its headroom is exactly threshold − used.
     */
    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void atRestNothingIsLeftOverWhateverTheOutcomes(long seed) {
        Random random = new Random(seed);
        long hard = 1 + random.nextInt(60);
        double ratio = random.nextBoolean() ? 1.0 : 0.05 + random.nextDouble() * 0.95;
        long threshold = CapacityGate.thresholdFor(hard, BigDecimal.valueOf(ratio));
        FailMode failMode = random.nextBoolean() ? FailMode.CLOSED : FailMode.OPEN;
        CapacityGate gate = new CapacityGate(true, ratio, failMode, Clock.systemUTC());
        ModelApiserver api = new ModelApiserver(hard, random.nextInt((int) hard + 1));
        Caller caller = new Caller();
        List<CapacityGate.Permit> resolvedEarlier = new ArrayList<>();
        long createdByUs = 0;
        int steps = 1 + random.nextInt(400);
        for (int step = 0; step < steps; step++) {
            switch (random.nextInt(16)) {
                case 0 -> {
                    if (caller.leases.size() < 3) {
                        caller.leases.add(gate.tryLease(1 + random.nextInt(10)));
                    }
                }
                case 1, 2 -> caller.take(random);
                case 3 -> caller.closeOne(random);
                case 4, 5 -> { // the create returned; the worker reports it now or later
                    Held h = caller.pick(random, false);
                    if (h != null) {
                        api.forceCreate();
                        createdByUs++;
                        h.createReturned = true;
                    }
                }
                case 6 -> {
                    Held h = caller.pick(random, true);
                    if (h != null) {
                        caller.held.remove(h);
                        // A bug after the create returned still hands the permit back: the object exists anyway.
                        Outcome o = random.nextInt(8) == 0 ? Outcome.THROWS_BEFORE_RESOLVING : Outcome.CREATED;
                        settle(h, o, random.nextInt(3) == 0, random);
                        resolvedEarlier.add(h.permit);
                    }
                }
                case 7 -> {
                    Held h = caller.pick(random, false);
                    if (h != null) {
                        caller.held.remove(h);
                        Outcome o = Outcome.values()[1 + random.nextInt(Outcome.values().length - 1)];
                        settle(h, o, random.nextInt(3) == 0, random);
                        resolvedEarlier.add(h.permit);
                    }
                }
                case 8 -> api.complete();
                case 9 -> api.controller();
                case 10 -> caller.reads.add(new PendingRead(gate.beginRead(), api.version()));
                case 11 -> {
                    if (!caller.reads.isEmpty()) {
                        PendingRead r = caller.reads.remove(random.nextInt(caller.reads.size()));
                        gate.apply(r.ticket(), new QuotaReading(hard, api.readAsOf(r.sentAt(), random)));
                    }
                }
                case 12 -> {
                    if (!caller.reads.isEmpty()) {
                        PendingRead r = caller.reads.remove(random.nextInt(caller.reads.size()));
                        gate.readFailed(r.ticket(), "timed out", random.nextInt(5) == 0);
                    }
                }
                case 13 -> {
                    if (random.nextBoolean()) {
                        gate.pause();
                    } else {
                        gate.resume();
                    }
                }
                case 14 -> {
                    if (random.nextBoolean()) {
                        gate.forbidden("denied");
                    } else {
                        gate.createAllowed();
                    }
                }
                default -> { // a permit resolved long ago is resolved again, any way: nothing changes
                    if (!resolvedEarlier.isEmpty()) {
                        GateState before = gate.state();
                        CapacityGate.Permit p = resolvedEarlier.get(random.nextInt(resolvedEarlier.size()));
                        switch (random.nextInt(3)) {
                            case 0 -> p.created();
                            case 1 -> p.returned();
                            default -> p.quotaRejected();
                        }
                        GateState after = gate.state();
                        assertThat(List.of(after.inFlight(), after.createdUnobserved(), after.headroom()))
                                .as("seed %d: a second resolution changed the gate", seed)
                                .isEqualTo(List.of(before.inFlight(), before.createdUnobserved(), before.headroom()));
                        assertThat(after.reason()).as("seed %d", seed).isEqualTo(before.reason());
                    }
                }
            }
            GateState s = gate.state();
            if (s.inFlight() != caller.held.size() || s.createdUnobserved() < 0
                    || s.createdUnobserved() > createdByUs || s.headroom() < -1) {
                fail("seed %d, step %d: in flight %d (model %d), unobserved %d of %d created, headroom %d", seed, step,
                        s.inFlight(), caller.held.size(), s.createdUnobserved(), createdByUs,
                        s.headroom());
            }
        }

        // Rest: every message resolved, every lease closed, every read in, the operator done.
        for (Held h : List.copyOf(caller.held)) {
            if (!h.createReturned && random.nextBoolean()) {
                api.forceCreate();
                createdByUs++;
                h.createReturned = true;
            }
            settle(h, h.createReturned ? Outcome.CREATED : Outcome.RETURNED, random.nextBoolean(), random);
            resolvedEarlier.add(h.permit);
        }
        caller.held.clear();
        while (!caller.leases.isEmpty()) {
            caller.closeOne(random);
        }
        while (!caller.reads.isEmpty()) {
            PendingRead r = caller.reads.remove(random.nextInt(caller.reads.size()));
            gate.apply(r.ticket(), new QuotaReading(hard, api.readAsOf(r.sentAt(), random)));
        }
        gate.resume();
        gate.createAllowed();
        gate.apply(gate.beginRead(), new QuotaReading(hard, api.read()));
        for (CapacityGate.Permit p : resolvedEarlier) {
            p.created(); // resolved long ago: a late report changes nothing
        }

        GateState s = gate.state();
        assertThat(s.inFlight()).as("seed %d: in flight at rest", seed).isZero();
        assertThat(s.createdUnobserved()).as("seed %d: unobserved at rest", seed).isZero();
        assertThat(s.headroom()).as("seed %d: headroom at rest, threshold %d, used %d", seed, threshold, api.read())
                .isEqualTo(Math.max(0, threshold - api.read()));
        assertThat(s.blocked()).as("seed %d", seed).isEqualTo(threshold - api.read() <= 0);
        assertThat(gate.permitsRevoked()).as("seed %d", seed).isFalse();
        try (CapacityGate.Lease all = gate.tryLease(Integer.MAX_VALUE)) {
            assertThat((long) all.permits()).as("seed %d", seed).isEqualTo(Math.max(0, threshold - api.read()));
        }
    }

    @Test
    void concurrentWorkersAtCapacityRatioOneNeverOvershoot() throws Exception {
        long hard = 75;
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        ModelApiserver api = new ModelApiserver(hard, 0);
        AtomicLong maxUsed = new AtomicLong();
        AtomicInteger created = new AtomicInteger();
        int target = 5_000;
        ExecutorService pool = Executors.newFixedThreadPool(6);
        CountDownLatch done = new CountDownLatch(1);
        gate.onRefreshNeeded(() -> gate.apply(gate.beginRead(), new QuotaReading(hard, api.read())));
        pool.submit(() -> { // quota monitor: reads continuously
            while (done.getCount() > 0) {
                CapacityGate.ReadTicket t = gate.beginRead();
                gate.apply(t, new QuotaReading(hard, api.read()));
            }
        });
        pool.submit(() -> { // objects complete at random, usage follows after the controller's lag
            Random r = new Random(1);
            while (done.getCount() > 0) {
                if (r.nextInt(3) == 0) {
                    api.complete();
                } else {
                    api.controller();
                }
                Thread.yield();
            }
        });
        for (int w = 0; w < 4; w++) {
            pool.submit(() -> {
                while (created.get() < target) {
                    try (CapacityGate.Lease lease = gate.lease(8, Duration.ofMillis(50), () -> true)) {
                        for (int i = 0; i < lease.permits(); i++) {
                            CapacityGate.Permit p = lease.take();
                            try {
                                if (api.create()) {
                                    created.incrementAndGet();
                                    maxUsed.accumulateAndGet(api.read(), Math::max);
                                    p.created();
                                } else {
                                    p.quotaRejected();
                                }
                            } finally {
                                p.returned();
                            }
                        }
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            });
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> created.get() >= target);
        done.countDown();
        pool.shutdownNow();
        assertThat(pool.awaitTermination(5, TimeUnit.SECONDS)).isTrue();
        assertThat(api.rejections).as("403s").isZero();
        assertThat(maxUsed.get()).isLessThanOrEqualTo(hard);
        assertThat(gate.state().inFlight()).isZero();
    }
}
