package io.quotagate.active;

import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.LongStream;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.gate.LimitReading;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

/**
 * The gate with an active limit fed by {@link ActiveTally}, against a model namespace where objects finish without
 * being deleted (and some are deleted, finished or not), and an informer whose cache lags the namespace by any number
 * of events. Our creates are told to the tally before their permits resolve, as the trigger does; readings take the
 * ticket, then the tally's snapshot, then list the cache — with informer deliveries in between. At every step the
 * unfinished objects plus the permits out for messages not created yet stay within each active limit, at capacity
 * ratio 1.0; at rest the headroom is exactly what fits.
 */
class ActiveLimitPropertiesTest {

    /** An object in the namespace: unfinished until it finishes; charges cpu milli-units. */
    private static final class Obj {
        final String key;
        final long cpu;
        boolean finished;

        Obj(String key, long cpu) {
            this.key = key;
            this.cpu = cpu;
        }

        ActiveTally.Counted counted() {
            return new ActiveTally.Counted(key, finished, Map.of("count", 1L, "requests.cpu", cpu));
        }
    }

    /** An informer event: the object's state as of when it happened, or its deletion (null). */
    private record Event(String key, ActiveTally.Counted state) {
    }

    private record Held(CapacityGate.Permit permit, boolean[] created) {
    }

    private record PendingApply(CapacityGate.ReadTicket ticket, Map<String, Map<String, Long>> snapshot) {
    }

    static LongStream seeds() {
        return LongStream.range(0, 1_000).map(i -> 0x9E3779B97F4A7C15L * (i + 1));
    }

    @ParameterizedTest(name = "seed {0}")
    @MethodSource("seeds")
    void unfinishedPlusPermitsOutNeverExceedTheActiveLimits(long seed) {
        Random random = new Random(seed);
        long maxObjects = 1 + random.nextInt(8);
        long cost = List.of(250L, 500L, 1000L).get(random.nextInt(3));
        long maxCpu = cost * (1 + random.nextInt(8)) + random.nextInt((int) cost);
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.expect(List.of(ActiveMonitor.SOURCE));
        ActiveTally tally = new ActiveTally(List.of("count", "requests.cpu"));

        Map<String, Obj> namespace = new LinkedHashMap<>();
        Map<String, ActiveTally.Counted> cache = new LinkedHashMap<>();
        ArrayDeque<Event> events = new ArrayDeque<>();
        // Someone else's objects, already listed: some finished.
        for (int i = random.nextInt(3); i > 0; i--) {
            Obj o = new Obj("theirs-" + i, cost);
            o.finished = random.nextBoolean();
            namespace.put(o.key, o);
            cache.put(o.key, o.counted());
        }
        List<CapacityGate.Lease> leases = new ArrayList<>();
        List<Held> held = new ArrayList<>();
        List<PendingApply> applies = new ArrayList<>();
        List<String> trace = new ArrayList<>();
        long now = 0;
        int created = 0;
        int steps = 1 + random.nextInt(400);
        for (int step = 0; step < steps; step++) {
            now += 1_000_000;
            switch (random.nextInt(10)) {
                case 0 -> {
                    if (leases.size() < 2) {
                        CapacityGate.Lease l = gate.tryLease(1 + random.nextInt(4));
                        leases.add(l);
                        trace.add("lease " + l.permits());
                    }
                }
                case 1 -> {
                    List<CapacityGate.Lease> open = leases.stream().filter(l -> l.untaken() > 0).toList();
                    if (!open.isEmpty()) {
                        held.add(new Held(open.get(random.nextInt(open.size())).take(), new boolean[1]));
                    }
                }
                case 2 -> {
                    if (!leases.isEmpty()) {
                        leases.remove(random.nextInt(leases.size())).close();
                    }
                }
                case 3 -> { // a create returns: stored, the tally told (the trigger), the permit not resolved yet
                    List<Held> waiting = held.stream().filter(h -> !h.created()[0]).toList();
                    if (!waiting.isEmpty()) {
                        Held h = waiting.get(random.nextInt(waiting.size()));
                        Obj o = new Obj("ours-" + created++, cost);
                        namespace.put(o.key, o);
                        events.add(new Event(o.key, o.counted()));
                        if (random.nextInt(8) > 0) { // the informer may even deliver it before we are told
                            tally.created(o.key, Map.of("count", 1L, "requests.cpu", cost), now);
                        } else {
                            events.pollLast();
                            cache.put(o.key, o.counted());
                            tally.delivered(o.key, now);
                            tally.created(o.key, Map.of("count", 1L, "requests.cpu", cost), now);
                        }
                        h.created()[0] = true;
                        trace.add("created " + o.key);
                    }
                }
                case 4 -> { // the worker resolves a permit: created, or returned (no create)
                    if (!held.isEmpty()) {
                        Held h = held.remove(random.nextInt(held.size()));
                        if (h.created()[0]) {
                            h.permit().created();
                        } else {
                            h.permit().returned();
                        }
                    }
                }
                case 5 -> { // work finishes, or an object is deleted (finished or not)
                    List<Obj> live = namespace.values().stream().filter(o -> !o.finished).toList();
                    if (random.nextInt(4) > 0 && !live.isEmpty()) {
                        Obj o = live.get(random.nextInt(live.size()));
                        o.finished = true;
                        events.add(new Event(o.key, o.counted()));
                        trace.add("finished " + o.key);
                    } else if (!namespace.isEmpty()) {
                        Obj o = new ArrayList<>(namespace.values()).get(random.nextInt(namespace.size()));
                        namespace.remove(o.key);
                        events.add(new Event(o.key, null));
                        trace.add("deleted " + o.key);
                    }
                }
                case 6, 7 -> { // the informer delivers its next event: cache first, then the handler
                    Event e = events.poll();
                    if (e != null) {
                        if (e.state() == null) {
                            cache.remove(e.key());
                        } else {
                            cache.put(e.key(), e.state());
                        }
                        tally.delivered(e.key(), now);
                    }
                }
                case 8 -> applies.add(new PendingApply(gate.beginRead(), tally.snapshot(now)));
                default -> {
                    if (!applies.isEmpty()) {
                        PendingApply a = applies.remove(0);
                        ActiveTally.Totals t = tally.count(a.snapshot(), List.copyOf(cache.values()));
                        gate.apply(a.ticket(), ActiveMonitor.SOURCE, List.of(
                                new LimitReading("count", maxObjects, t.unfinished(), 1),
                                new LimitReading("requests.cpu", maxCpu, t.used().get("requests.cpu"), cost)));
                        trace.add("applied " + t);
                    }
                }
            }
            long unfinished = namespace.values().stream().filter(o -> !o.finished).count();
            long cpu = namespace.values().stream().filter(o -> !o.finished).mapToLong(o -> o.cpu).sum();
            long notCreated = leases.stream().mapToLong(CapacityGate.Lease::untaken).sum()
                    + held.stream().filter(h -> !h.created()[0]).count();
            long theirs = namespace.keySet().stream().filter(k -> k.startsWith("theirs")).count();
            if (notCreated > 0 && (unfinished + notCreated > Math.max(maxObjects, theirs)
                    || cpu + cost * notCreated > Math.max(maxCpu, theirs * cost))) {
                fail("seed %d: max %d objects / %d cpu (cost %d): %d unfinished, %d cpu, %d permits out; last steps:%n%s",
                        seed, maxObjects, maxCpu, cost, unfinished, cpu, notCreated,
                        String.join("\n", trace.subList(Math.max(0, trace.size() - 30), trace.size())));
            }
        }
        // At rest: every permit resolved, the informer caught up, a fresh reading: what fits, exactly.
        held.forEach(h -> {
            if (h.created()[0]) {
                h.permit().created();
            } else {
                h.permit().returned();
            }
        });
        leases.forEach(CapacityGate.Lease::close);
        while (!events.isEmpty()) {
            Event e = events.poll();
            if (e.state() == null) {
                cache.remove(e.key());
            } else {
                cache.put(e.key(), e.state());
            }
            tally.delivered(e.key(), now);
        }
        CapacityGate.ReadTicket ticket = gate.beginRead();
        ActiveTally.Totals t = tally.count(tally.snapshot(now), List.copyOf(cache.values()));
        long unfinished = namespace.values().stream().filter(o -> !o.finished).count();
        assertThat(t.unfinished()).as("seed %d", seed).isEqualTo(unfinished);
        assertThat(t.pending()).as("seed %d: nothing pending once delivered", seed).isZero();
        gate.apply(ticket, ActiveMonitor.SOURCE, List.of(new LimitReading("count", maxObjects, t.unfinished(), 1),
                new LimitReading("requests.cpu", maxCpu, t.used().get("requests.cpu"), cost)));
        long fits = Math.max(0, Math.min(maxObjects - unfinished, Math.floorDiv(maxCpu - unfinished * cost, cost)));
        assertThat(gate.state().headroom()).as("seed %d: headroom at rest", seed).isEqualTo(fits);
    }
}
