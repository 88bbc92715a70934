package io.quotagate.coordination;

import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BooleanSupplier;
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

    private static final Logger log = LoggerFactory.getLogger(Coordinator.class);

    private final BlockStore store;
    /** The stream's key in the bucket: a durable name may be used on two streams, which must not share a quota. */
    private final String key;
    private final CapacityGate gate;
    private final Membership membership;
    private final LongSupplier clock;
    /** The newest state seen (by a read, a write or the watch) and its revision; null before the first. */
    private volatile Versioned latest;
    /** {@link #latest}, but kept when a failed turn drops that to read the state again. */
    private volatile Versioned lastKnown;
    private long appliedRevision = -1;
    /** The epoch of the state applied last, and what this process adds to its readings' sequences for the gate. */
    private long appliedEpoch = Long.MIN_VALUE;
    private long sequenceBase;
    private long newestApplied;
    /** Per quota, this process's creates (and their extra units) in the reading applied with the most of them. */
    private final Map<String, SharedState.Covered> observed = new HashMap<>();
    private long lastOkAt;
    private String failing;
    private volatile boolean wasReader;
    private final AtomicLong writes = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private long lastFreshServed;
    /** Whether the current failure was logged (it is not while NATS is merely disconnected). */
    private boolean announced;
    /** True while the NATS connection is down. */
    private volatile BooleanSupplier disconnected = () -> false;
    private long lastDepartureServed;

    record Versioned(SharedState state, long revision) {
    }

    Coordinator(BlockStore store, String key, CapacityGate gate, Membership membership, LongSupplier clock) {
        this.store = store;
        this.key = key;
        this.gate = gate;
        this.membership = membership;
        this.clock = clock;
        this.lastOkAt = clock.getAsLong();
        // Until its first heartbeat is written the others do not count this process: no create of its starts.
        gate.createsBounded(Long.MIN_VALUE, Long.MIN_VALUE);
    }

    /** A newer state, delivered by the bucket's watch: older ones are ignored. */
    void seen(SharedState state, long revision) {
        Versioned v = latest;
        if (v == null || revision > v.revision()) {
            latest = new Versioned(state, revision);
            lastKnown = latest;
        }
    }

    Versioned latest() {
        return latest;
    }

    /** The newest state this process had seen before its view was last dropped, or since; null before the first. */
    Versioned lastKnown() {
        Versioned v = latest;
        return v != null ? v : lastKnown;
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
                    long rev = store.update(key, next.toBytes(), v.revision());
                    writes.incrementAndGet();
                    membership.written(next, now);
                    boundCreates();
                    seen(next, rev);
                    ok(now);
                } catch (BlockStore.Conflict c) {
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

    /**
     * This process stops (after its consumer drained): it leaves the members at once instead of a lease later. What it
     * created and no reading covers yet stays counted as a departed share, as for a member removed for silence.
     */
    void leave(long untilMillis) {
        for (int attempt = 0; attempt < 3; attempt++) {
            try {
                Versioned v = read();
                if (v == null || !v.state().members().containsKey(membership.id)) {
                    return;
                }
                store.update(key, Allocation.prune(v.state(), membership.id, untilMillis).toBytes(), v.revision());
                return;
            } catch (BlockStore.Conflict c) {
                // another member wrote meanwhile: read again
            } catch (Exception e) {
                log.debug("Leaving the coordination failed: {}", e.toString());
                return;
            }
        }
    }

    /** Lower caps in the gate before a write that gives their units away; re-decide if the gate used them meanwhile. */
    private SharedState shrinkFirst(Versioned v, SharedState next, OwnUsage usage, long now) {
        Map<String, Map<String, Long>> before = capsInGate(v.state());
        Map<String, Map<String, Long>> after = capsInGate(next);
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

    /**
     * This process's caps in the gate's terms. A share is the allowance less the creates the reading's {@code covered}
     * includes; the gate counts its creates beyond the most that any reading it applied included (it never counts
     * back). A reading started while this process was no member (removed for silence, or the state started again)
     * covers none of its creates, so its share, joined again with all it ever consumed, holds every create it made,
     * while the gate counts only those no reading has seen: as a cap, that share would let it take room the others
     * hold. The difference comes off.
     */
    private Map<String, Map<String, Long>> capsInGate(SharedState s) {
        Map<String, Map<String, Long>> caps = Allocation.caps(s, membership.id);
        caps.forEach((name, per) -> {
            SharedState.Source src = s.sources().get(name);
            SharedState.Covered seen = observed.get(name);
            if (src == null || src.limits() == null || seen == null) {
                return;
            }
            SharedState.Covered covered = src.covered().getOrDefault(membership.id, SharedState.Covered.NONE);
            for (SharedState.Limit l : src.limits()) {
                long ahead = seen.units(l.resource(), l.cost()) - covered.units(l.resource(), l.cost());
                if (ahead > 0) {
                    per.put(l.resource(), Math.max(0, per.getOrDefault(l.resource(), 0L) - ahead));
                }
            }
        });
        return caps;
    }

    private void toGate(Versioned v) {
        SharedState s = v.state();
        if (v.revision() == appliedRevision && s.epoch() == appliedEpoch) {
            return;
        }
        if (s.epoch() != appliedEpoch) {
            // A state started again numbers its readings from 0 again. The gate ignores a reading not newer than the
            // one it applied, so it would keep the old state's reading (its used, long gone) under the new caps:
            // this process's sequences go on past every reading it applied.
            sequenceBase = newestApplied;
            appliedEpoch = s.epoch();
        }
        long base = sequenceBase;
        Map<String, SharedSource> sources = new HashMap<>();
        s.sources().forEach((name, src) -> {
            SharedState.Covered mine = src.covered().getOrDefault(membership.id, SharedState.Covered.NONE);
            List<LimitReading> limits = src.limits() == null ? null : src.limits().stream()
                    .map(l -> new LimitReading(l.resource(), l.hard(), l.used(), l.cost())).toList();
            sources.put(name, new SharedSource(base + src.seq(), mine.n(), limits, src.error(), src.configuration()));
        });
        observed.keySet().retainAll(s.sources().keySet()); // the gate forgets a quota the state no longer has
        s.sources().forEach((name, src) -> {
            SharedState.Covered mine = src.covered().getOrDefault(membership.id, SharedState.Covered.NONE);
            SharedState.Covered before = observed.get(name);
            if (src.limits() != null && (before == null || mine.n() > before.n())) {
                observed.put(name, mine);
            }
        });
        gate.applyShared(sources, capsInGate(s), base + s.seq());
        newestApplied = Math.max(newestApplied, base + s.seq());
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
            if (d.until() <= now) {
                due = Math.max(due, d.until());
            }
        }
        if (s.settle() > 0 && s.settle() < now) {
            for (SharedState.Source src : s.sources().values()) {
                if (src.limits() != null && src.at() <= s.settle()) {
                    due = Math.max(due, s.settle()); // no member grows from a reading started before the settle ended
                }
            }
        }
        if (wanted > lastFreshServed || due > lastDepartureServed) {
            lastFreshServed = Math.max(lastFreshServed, wanted);
            lastDepartureServed = Math.max(lastDepartureServed, due);
            gate.requestFreshRead();
        }
    }

    /** Each heartbeat written moves the creates' window on: see {@link Membership#createsEndBy}. */
    private void boundCreates() {
        Long beat = membership.lastBeatWritten();
        if (beat != null) {
            gate.createsBounded(membership.createsStartBy(beat), membership.createsEndBy(beat));
        }
    }

    /**
     * Millis from {@code now} until this process has something to do that no event will announce: a silent member is
     * due for removal, or (as the reader) a departed share's reading is due. The coordination's next turn comes then
     * at the latest, so a dead member's room is back a lease and a second after it died, not a heartbeat later still.
     */
    long nextDueIn(long now) {
        long due = membership.nextSilenceDue(now);
        Versioned v = latest;
        if (v != null && membership.id.equals(Allocation.reader(v.state()))) {
            for (SharedState.Departed d : v.state().departed()) {
                if (d.until() > lastDepartureServed) {
                    due = Math.min(due, Math.max(0, d.until() - now));
                }
            }
        }
        return due;
    }

    private Versioned read() throws Exception {
        BlockStore.Entry e = store.get(key);
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
        // A member cut off when the state went wrote its last heartbeat before now, so its creates end within a lease
        // of now (Membership#createsEndBy), and may be stored a little later: as long as a departed member's share.
        long quiet = membership.leaseMillis() + membership.departedWait();
        SharedState fresh = SharedState.fresh(now, hadState ? now + quiet : 0);
        try {
            long rev = store.create(key, fresh.toBytes());
            seen(fresh, rev);
            if (hadState) {
                log.warn("Coordination state {} was gone and is started again; no replica grows its share for {} ms",
                        store.name(), quiet);
            }
        } catch (BlockStore.Conflict c) {
            read();
        }
    }

    private void ok(long now) {
        lastOkAt = now;
        if (failing != null) {
            if (announced) {
                log.info("Coordination through {} works again", store.name());
            }
            failing = null;
            gate.coordinationFailing(null);
            appliedRevision = -1; // fail-mode open dropped the caps: the next turn applies them again
        }
    }

    /** Tells whether NATS is disconnected, so an outage is not announced twice. */
    void disconnectedWhen(BooleanSupplier disconnected) {
        this.disconnected = disconnected;
    }

    /** The bucket could not be reached before a turn (not connected, not created, no watch). */
    void failedOutside(String problem, long now) {
        errors.incrementAndGet();
        failed(new IllegalStateException(problem), now);
    }

    private void failed(Exception e, long now) {
        String message = "coordination through " + store.name() + " failing: " + e.getMessage();
        if (failing == null && now - lastOkAt >= membership.leaseMillis() / 2) {
            // While NATS itself is away the connection's own lines and the gate's transition say it all: one more
            // pair of lines per outage would only be noise. Any other cause (a permission, the bucket) is said here.
            announced = !disconnected.getAsBoolean();
            if (announced) {
                log.warn("{}; no create starts until it works again (fail-mode closed)", message);
            }
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

    long errors() {
        return errors.get();
    }

    String key() {
        return key;
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
