package io.quotagate.gate;

import java.math.BigDecimal;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.LoggerFactory;
import org.junit.jupiter.api.parallel.ResourceLock;
import io.quotagate.support.SharedLogging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The gate's promise when a message's real cost differs from the template's ({@link CapacityGate.Permit#charge}):
 * several quotas, several resources whose template cost is 0, 1, 2, 250 or 500, and messages whose parameters make
 * their object cost more (or less) than the template. Whatever the interleaving of leases, charges, creates,
 * deletions, controller lag and stale, overtaken or failed reads, for every limit the quota's used plus what this
 * process has in flight (the template's cost for a permit not charged yet, its real cost once charged, never less than
 * the template's) stays within the threshold, and admission never answers "exceeded quota". At rest, with a fresh read
 * in, nothing is left held and the headroom is the least floor((threshold − used) ÷ cost) over the limits of cost ≥ 1.
 */
@ResourceLock(SharedLogging.LOCK)
class CapacityGateRealCostPropertiesTest {

    private static Level gateLogLevel;

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

    static LongStream seeds() {
        return LongStream.range(0, 1_500).map(i -> 0x9E3779B97F4A7C15L * (i + 1));
    }

    /**
     * A namespace whose objects each charge their own cost: admission checks every quota listing a resource the
     * object is charged (a cost of 0 is not charged at all, as a pod without a cpu request is not checked against
     * {@code requests.cpu}), all or nothing, before the create returns; each quota's controller gives a deleted
     * object's charge back with its own lag; a read describes any version from its request to its response.
     */
    static final class Namespace {
        final long[] templateCost;
        final long[][] hard;
        final long[][] used;
        final List<List<long[]>> history = new ArrayList<>();
        final List<long[]> objects = new ArrayList<>();
        final List<ArrayDeque<long[]>> pendingGiveBack = new ArrayList<>();
        long rejections;

        Namespace(Random random, int quotas, int resources) {
            long[] costs = {0, 1, 1, 2, 250, 500};
            templateCost = new long[resources];
            for (int r = 0; r < resources; r++) {
                templateCost[r] = costs[random.nextInt(costs.length)];
            }
            hard = new long[quotas][resources];
            used = new long[quotas][resources];
            for (int q = 0; q < quotas; q++) {
                for (int r = 0; r < resources; r++) {
                    if (random.nextInt(3) == 0) {
                        hard[q][r] = -1;
                        continue;
                    }
                    long unit = unit(r);
                    hard[q][r] = unit * random.nextInt(random.nextBoolean() ? 4 : 12) + random.nextInt((int) unit);
                    used[q][r] = hard[q][r] == 0 ? 0 : random.nextLong(hard[q][r] + 1);
                }
                List<long[]> h = new ArrayList<>();
                h.add(used[q].clone());
                history.add(h);
                pendingGiveBack.add(new ArrayDeque<>());
            }
        }

        int quotas() {
            return hard.length;
        }

        /** The template's cost, or for a resource it is not charged what a message that adds it typically costs. */
        long unit(int r) {
            return templateCost[r] > 0 ? templateCost[r] : 250;
        }

        boolean lists(int q, int r) {
            return hard[q][r] >= 0;
        }

        boolean anyLists(int r) {
            for (int q = 0; q < quotas(); q++) {
                if (lists(q, r)) {
                    return true;
                }
            }
            return false;
        }

        /** What a message's parameters make its object cost: often the template's, else more or less per resource. */
        long[] realCost(Random random) {
            long[] real = templateCost.clone();
            if (random.nextBoolean()) {
                for (int r = 0; r < real.length; r++) {
                    switch (random.nextInt(4)) {
                        case 0, 2 -> real[r] += 1 + random.nextInt((int) (3 * unit(r)));
                        case 1 -> real[r] = Math.max(0, real[r] - 1 - random.nextInt(3));
                        default -> { }
                    }
                }
            }
            return real;
        }

        boolean create(long[] real) {
            for (int q = 0; q < quotas(); q++) {
                for (int r = 0; r < real.length; r++) {
                    if (lists(q, r) && real[r] > 0 && used[q][r] + real[r] > hard[q][r]) {
                        rejections++;
                        return false;
                    }
                }
            }
            objects.add(real);
            for (int q = 0; q < quotas(); q++) {
                for (int r = 0; r < real.length; r++) {
                    if (lists(q, r)) {
                        used[q][r] += real[r];
                    }
                }
                history.get(q).add(used[q].clone());
            }
            return true;
        }

        void delete(Random random) {
            if (!objects.isEmpty()) {
                long[] real = objects.remove(random.nextInt(objects.size()));
                pendingGiveBack.forEach(p -> p.add(real));
            }
        }

        void controller(int q) {
            long[] real = pendingGiveBack.get(q).poll();
            if (real == null) {
                return;
            }
            for (int r = 0; r < real.length; r++) {
                if (lists(q, r)) {
                    used[q][r] -= real[r];
                }
            }
            history.get(q).add(used[q].clone());
        }

        int version(int q) {
            return history.get(q).size() - 1;
        }

        List<LimitReading> readAsOf(int q, int sentAt, Random random) {
            int now = version(q);
            return readings(q, history.get(q).get(sentAt + random.nextInt(now - sentAt + 1)));
        }

        List<LimitReading> read(int q) {
            return readings(q, used[q]);
        }

        private List<LimitReading> readings(int q, long[] usedThen) {
            List<LimitReading> out = new ArrayList<>();
            for (int r = 0; r < templateCost.length; r++) {
                if (lists(q, r)) {
                    out.add(new LimitReading("resource-" + r, hard[q][r], usedThen[r], templateCost[r]));
                }
            }
            return out;
        }

        Charge charge(long[] real) {
            return (source, resource) -> real[Integer.parseInt(resource.substring("resource-".length()))];
        }
    }

    private static final class Held {
        final CapacityGate.Permit permit;
        final long[] real;
        boolean charged;
        boolean createReturned;

        Held(CapacityGate.Permit permit, long[] real) {
            this.permit = permit;
            this.real = real;
        }
    }

    private record PendingRead(CapacityGate.ReadTicket ticket, int quota, int sentAt) {
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void usedPlusInFlightUnitsNeverExceedAnyThresholdWhateverTheRealCosts(long seed) {
        Random random = new Random(seed);
        double ratio = random.nextInt(3) > 0 ? 1.0 : 0.05 + random.nextDouble() * 0.95;
        Namespace api = new Namespace(random, 1 + random.nextInt(3), 1 + random.nextInt(3));
        CapacityGate gate = new CapacityGate(true, ratio, FailMode.CLOSED, Clock.systemUTC());
        // One thread plays every part: no lease can close while a charge waits for it, so a charge blocked by a
        // reservation fails at once (what it does after the wait). CapacityGateChargeTest covers the wait.
        gate.chargeWait(java.time.Duration.ZERO);
        List<String> names = new ArrayList<>();
        for (int q = 0; q < api.quotas(); q++) {
            names.add("quota-" + q);
        }
        gate.expect(names);
        List<CapacityGate.Lease> leases = new ArrayList<>();
        List<Held> held = new ArrayList<>();
        List<PendingRead> reads = new ArrayList<>();
        List<String> trace = new ArrayList<>();
        long noRoom = 0;
        long[] lastAdmitted = new long[api.templateCost.length];
        int steps = 1 + random.nextInt(500);
        for (int step = 0; step < steps; step++) {
            switch (random.nextInt(13)) {
                case 0, 1 -> {
                    if (leases.size() < 2) {
                        CapacityGate.Lease lease = gate.tryLease(1 + random.nextInt(10));
                        leases.add(lease);
                        trace.add("lease " + lease.permits());
                    }
                }
                case 2 -> {
                    CapacityGate.Lease lease = leases.isEmpty() ? null : leases.get(random.nextInt(leases.size()));
                    if (lease != null && lease.untaken() > 0) {
                        long[] real = api.realCost(random);
                        held.add(new Held(lease.take(), real));
                        trace.add("take, real cost " + Arrays.toString(real));
                    } else if (lease != null) {
                        lease.close();
                        leases.remove(lease);
                    }
                }
                case 3, 4 -> { // charge the real cost before the create
                    Held h = pick(held, random, x -> !x.charged);
                    if (h != null) {
                        if (h.permit.charge(api.charge(h.real))) {
                            h.charged = true;
                            for (int r = 0; r < h.real.length; r++) {
                                if (api.templateCost[r] == 0 && h.real[r] > 0 && api.anyLists(r)) {
                                    lastAdmitted[r] = h.real[r];
                                }
                            }
                            trace.add("charged " + Arrays.toString(h.real));
                        } else {
                            held.remove(h);
                            h.permit.returned();
                            noRoom++;
                            trace.add("no room for " + Arrays.toString(h.real));
                        }
                    }
                }
                case 5 -> {
                    Held h = pick(held, random, x -> x.charged && !x.createReturned);
                    if (h != null) {
                        if (api.create(h.real)) {
                            h.createReturned = true;
                            trace.add("create returned");
                        } else {
                            held.remove(h);
                            h.permit.quotaRejected();
                            trace.add("create REJECTED for quota");
                        }
                    }
                }
                case 6 -> {
                    Held h = pick(held, random, x -> x.createReturned);
                    if (h != null) {
                        held.remove(h);
                        h.permit.created();
                        trace.add("created");
                    }
                }
                case 7 -> {
                    Held h = pick(held, random, x -> !x.createReturned);
                    if (h != null) {
                        held.remove(h);
                        h.permit.returned();
                        trace.add("no create");
                    }
                }
                case 8 -> {
                    api.delete(random);
                    trace.add("delete");
                }
                case 9 -> api.controller(random.nextInt(api.quotas()));
                case 10 -> {
                    if (random.nextBoolean()) {
                        int q = random.nextInt(api.quotas());
                        reads.add(new PendingRead(gate.beginRead(), q, api.version(q)));
                    } else {
                        CapacityGate.ReadTicket ticket = gate.beginRead();
                        for (int q = 0; q < api.quotas(); q++) {
                            reads.add(new PendingRead(ticket, q, api.version(q)));
                        }
                    }
                }
                case 11 -> {
                    if (!reads.isEmpty()) {
                        PendingRead r = reads.remove(random.nextInt(reads.size()));
                        List<LimitReading> got = api.readAsOf(r.quota(), r.sentAt(), random);
                        gate.apply(r.ticket(), "quota-" + r.quota(), got);
                        trace.add("read " + r.ticket().sequence() + " of " + r.quota() + " applied: " + got);
                    }
                }
                default -> {
                    if (!reads.isEmpty()) {
                        PendingRead r = reads.remove(random.nextInt(reads.size()));
                        gate.readFailed(r.ticket(), "quota-" + r.quota(), "timed out", false);
                    }
                }
            }
            for (int q = 0; q < api.quotas(); q++) {
                for (int r = 0; r < api.templateCost.length; r++) {
                    if (!api.lists(q, r)) {
                        continue;
                    }
                    long inFlight = 0;
                    for (Held h : held) {
                        if (!h.createReturned) {
                            inFlight += h.charged ? Math.max(h.real[r], api.templateCost[r]) : api.templateCost[r];
                        }
                    }
                    long threshold = CapacityGate.thresholdFor(api.hard[q][r], BigDecimal.valueOf(ratio));
                    if (inFlight > 0 && api.used[q][r] + inFlight > threshold) {
                        fail("seed %d, quota %d resource-%d (template cost %d, hard %d, threshold %d): used %d + %d "
                                + "units in flight; the last steps:%n%s", seed, q, r, api.templateCost[r],
                                api.hard[q][r], threshold, api.used[q][r], inFlight, String.join("\n", tail(trace)));
                    }
                }
            }
            if (api.rejections > 0) {
                fail("seed %d: exceeded quota; the last steps:%n%s", seed, String.join("\n", tail(trace)));
            }
        }

        for (Held h : held) {
            if (h.createReturned) {
                h.permit.created();
            } else {
                h.permit.returned();
            }
        }
        leases.forEach(CapacityGate.Lease::close);
        CapacityGate.ReadTicket fresh = gate.beginRead();
        for (int q = 0; q < api.quotas(); q++) {
            gate.apply(fresh, "quota-" + q, api.read(q));
        }
        GateState s = gate.state();
        assertThat(s.inFlight()).as("seed %d: held at rest", seed).isZero();
        assertThat(s.createdUnobserved()).as("seed %d: unobserved at rest", seed).isZero();
        assertThat(s.limits()).as("seed %d: units in flight at rest", seed).allMatch(l -> l.inFlight() == 0);
        assertThat(s.headroom()).as("seed %d: headroom at rest (%d refused for room)", seed, noRoom)
                .isEqualTo(expectedHeadroom(api, ratio, lastAdmitted));
    }

    /** Per limit of cost ≥ 1 its template cost; per limit of cost 0 the last admitted message's cost, if any. */
    private static long expectedHeadroom(Namespace api, double ratio, long[] lastAdmitted) {
        long min = Long.MAX_VALUE;
        for (int q = 0; q < api.quotas(); q++) {
            for (int r = 0; r < api.templateCost.length; r++) {
                long per = api.templateCost[r] > 0 ? api.templateCost[r] : lastAdmitted[r];
                if (api.lists(q, r) && per > 0) {
                    long threshold = CapacityGate.thresholdFor(api.hard[q][r], BigDecimal.valueOf(ratio));
                    min = Math.min(min, Math.max(0, Math.floorDiv(threshold - api.used[q][r], per)));
                }
            }
        }
        return min == Long.MAX_VALUE ? -1 : min;
    }

    private static Held pick(List<Held> held, Random random, java.util.function.Predicate<Held> which) {
        List<Held> candidates = held.stream().filter(which).toList();
        return candidates.isEmpty() ? null : candidates.get(random.nextInt(candidates.size()));
    }

    private static List<String> tail(List<String> trace) {
        return trace.subList(Math.max(0, trace.size() - 40), trace.size());
    }
}
