package io.quotagate.coordination;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.LimitReading;
import io.quotagate.gate.OwnUsage;
import io.quotagate.gate.SharedSource;
import io.quotagate.ledger.BlockStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps this process's gate and the replicas' shared state in step, one {@link #runOnce() turn} at a time on one
 * thread: apply the newest state to the gate (reading and caps together), ask {@link Membership} what to write, and
 * write it with compare-and-set. A cap only shrinks in the gate <em>before</em> the write that gives the units away,
 * and only grows after the write that took them, so at no moment do two members count on the same units.
 *
 * <p>While the bucket cannot be written for half a lease, this process stops creating (fail-mode closed): by the time
 * the others remove it for silence, a lease after its last heartbeat, it has started nothing they do not count.
 */
final class Coordinator {

    static final String KEY = "state";
    private static final Logger log = LoggerFactory.getLogger(Coordinator.class);

    private final BlockStore store;
    private final CapacityGate gate;
    private final Membership membership;
    private final LongSupplier clock;
    /** The newest state seen (by a read, a write or the watch) and its revision; null before the first. */
    private volatile Versioned latest;
    private long appliedRevision = -1;
    private long lastOkAt;
    private String failing;
    private volatile boolean wasReader;
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong conflicts = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private long lastFreshServed;
    private long lastDepartureServed;

    record Versioned(SharedState state, long revision) {
    }

    Coordinator(BlockStore store, CapacityGate gate, Membership membership, LongSupplier clock) {
        this.store = store;
        this.gate = gate;
        this.membership = membership;
        this.clock = clock;
        this.lastOkAt = clock.getAsLong();
    }

    /** A newer state, delivered by the bucket's watch: older ones are ignored. */
    void seen(SharedState state, long revision) {
        Versioned v = latest;
        if (v == null || revision > v.revision()) {
            latest = new Versioned(state, revision);
        }
    }

    Versioned latest() {
        return latest;
    }

    /**
     * One turn: the newest state into the gate, then at most a few writes until nothing more needs writing.
     *
     * @return true when the turn ended with everything written
     */
    boolean runOnce() {
        long now = clock.getAsLong();
        try {
            for (int attempt = 0; attempt < 8; attempt++) {
                Versioned v = latest;
                if (v == null) {
                    v = read();
                    if (v == null) {
                        create(now);
                        continue;
                    }
                }
                toGate(v);
                OwnUsage usage = gate.usage();
                SharedState next = membership.next(v.state(), v.revision(), usage, now);
                if (next == null) {
                    // No contact with the bucket in this turn: only a read or a write shows it still works.
                    serveFreshReads(v.state(), now);
                    return true;
                }
                next = shrinkFirst(v, next, usage, now);
                try {
                    long rev = store.update(KEY, next.toBytes(), v.revision());
                    writes.incrementAndGet();
                    membership.written(next, now);
                    seen(next, rev);
                    ok(now);
                } catch (BlockStore.Conflict c) {
                    conflicts.incrementAndGet();
                    latest = read();
                    ok(now);
                }
            }
            return false;
        } catch (Exception e) {
            errors.incrementAndGet();
            failed(e, now);
            latest = null; // read it again: the view may be stale after whatever failed
            return false;
        }
    }

    /** Lower caps in the gate before a write that gives their units away; re-decide if the gate used them meanwhile. */
    private SharedState shrinkFirst(Versioned v, SharedState next, OwnUsage usage, long now) {
        Map<String, Map<String, Long>> before = Allocation.caps(v.state(), membership.id);
        Map<String, Map<String, Long>> after = Allocation.caps(next, membership.id);
        if (!lower(after, before)) {
            return next;
        }
        gate.caps(min(before, after));
        OwnUsage again = gate.usage();
        if (again.consumed().equals(usage.consumed())) {
            return next;
        }
        SharedState redone = membership.next(v.state(), v.revision(), again, now);
        return redone == null ? next : redone;
    }

    private void toGate(Versioned v) {
        if (v.revision() == appliedRevision) {
            return;
        }
        SharedState s = v.state();
        Map<String, SharedSource> sources = new HashMap<>();
        s.sources().forEach((name, src) -> {
            SharedState.Covered mine = src.covered().getOrDefault(membership.id, SharedState.Covered.NONE);
            List<LimitReading> limits = src.limits() == null ? null : src.limits().stream()
                    .map(l -> new LimitReading(l.resource(), l.hard(), l.used(), l.cost())).toList();
            sources.put(name, new SharedSource(src.seq(), mine.n(), limits, src.error(), src.configuration()));
        });
        gate.applyShared(sources, Allocation.caps(s, membership.id), s.seq());
        appliedRevision = v.revision();
        boolean reader = membership.id.equals(Allocation.reader(s));
        if (reader && !wasReader) {
            gate.requestFreshRead(); // just became the reader: the shared reading may be a dead reader's, and old
        }
        wasReader = reader;
    }

    /**
     * As the reader: another member asked for a reading started after some revision the shared one is not, or a
     * departed member's share is due to go. That share goes only with a reading started after its {@code until}, and a
     * quota held full by it may change no more (the others wait for that very room): without a read asked for here,
     * the room would come back at the next poll, up to a poll interval late.
     */
    private void serveFreshReads(SharedState s, long now) {
        if (!membership.id.equals(Allocation.reader(s))) {
            return;
        }
        long wanted = 0;
        for (SharedState.Member m : s.members().values()) {
            wanted = Math.max(wanted, m.fresh());
        }
        long due = 0;
        for (SharedState.Departed d : s.departed()) {
            if (d.until() < now) {
                due = Math.max(due, d.until());
            }
        }
        if (wanted > lastFreshServed || due > lastDepartureServed) {
            lastFreshServed = Math.max(lastFreshServed, wanted);
            lastDepartureServed = Math.max(lastDepartureServed, due);
            gate.requestFreshRead();
        }
    }

    private Versioned read() throws Exception {
        BlockStore.Entry e = store.get(KEY);
        if (e == null) {
            return null;
        }
        Versioned v = new Versioned(SharedState.fromBytes(e.value()), e.revision());
        seen(v.state(), v.revision());
        return latest;
    }

    /**
     * The key is missing: a first start, or the bucket was re-created under running replicas. In the second case
     * this process held a share of the old state, and so may the others: nobody grows for a lease, time enough for
     * each to show what it holds.
     */
    private void create(long now) throws Exception {
        boolean hadState = appliedRevision >= 0;
        SharedState fresh = SharedState.fresh(now, hadState ? now + membership.leaseMillis() : 0);
        try {
            long rev = store.create(KEY, fresh.toBytes());
            seen(fresh, rev);
            if (hadState) {
                log.warn("Coordination state {} was gone and is started again; no replica grows its share for {} ms",
                        store.name(), membership.leaseMillis());
            }
        } catch (BlockStore.Conflict c) {
            read();
        }
    }

    private void ok(long now) {
        lastOkAt = now;
        if (failing != null) {
            log.info("Coordination through {} works again", store.name());
            failing = null;
            gate.coordinationFailing(null);
        }
    }

    private void failed(Exception e, long now) {
        String message = "coordination through " + store.name() + " failing: " + e.getMessage();
        if (failing == null && now - lastOkAt >= membership.leaseMillis() / 2) {
            log.warn("{}; no create starts until it works again (fail-mode closed)", message);
            failing = message;
            gate.coordinationFailing(message);
        } else if (failing == null) {
            log.debug("{}", message);
        }
    }

    /** Why coordination fails now, or null. */
    String failing() {
        return failing;
    }

    long writes() {
        return writes.get();
    }

    long conflicts() {
        return conflicts.get();
    }

    long errors() {
        return errors.get();
    }

    Membership membership() {
        return membership;
    }

    private static boolean lower(Map<String, Map<String, Long>> after, Map<String, Map<String, Long>> before) {
        for (Map.Entry<String, Map<String, Long>> e : before.entrySet()) {
            Map<String, Long> a = after.getOrDefault(e.getKey(), Map.of());
            for (Map.Entry<String, Long> r : e.getValue().entrySet()) {
                if (a.getOrDefault(r.getKey(), 0L) < r.getValue()) {
                    return true;
                }
            }
        }
        return false;
    }

    private static Map<String, Map<String, Long>> min(Map<String, Map<String, Long>> a,
                                                      Map<String, Map<String, Long>> b) {
        Map<String, Map<String, Long>> out = new HashMap<>();
        a.forEach((source, per) -> {
            Map<String, Long> m = new HashMap<>();
            Map<String, Long> other = b.getOrDefault(source, Map.of());
            per.forEach((r, u) -> m.put(r, Math.min(u, other.getOrDefault(r, 0L))));
            out.put(source, m);
        });
        return out;
    }
}
