package io.quotagate.coordination;

import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.LimitReading;
import io.quotagate.gate.OwnUsage;
import io.quotagate.gate.SharedReads;

/**
 * The quota monitors' reads when replicas share the quota ({@link SharedReads}). On the reader, each read becomes a
 * {@link Publication} with what every member had shared of its creates when the read started, for the coordinator to
 * write; on the others the monitors do not read (see {@link #readsHere}), and what they would apply is dropped.
 */
final class ReaderShare implements SharedReads {

    private final Membership membership;
    private final Coordinator coordinator;
    private final Runnable wake;
    private final LongSupplier clock;
    private final AtomicLong tickets = new AtomicLong();
    /** What a read saw when it started, by ticket sequence, until its quotas are applied or failed. */
    private final Map<Long, Start> starts = new ConcurrentHashMap<>();

    private record Start(long epoch, long rev, long at, SharedState state, OwnUsage own) {
    }

    private final Supplier<OwnUsage> usage;

    ReaderShare(Membership membership, Coordinator coordinator, Supplier<OwnUsage> usage, Runnable wake,
                LongSupplier clock) {
        this.membership = membership;
        this.usage = usage;
        this.coordinator = coordinator;
        this.wake = wake;
        this.clock = clock;
    }

    @Override
    public boolean readsHere() {
        Coordinator.Versioned v = coordinator.latest();
        // Before the first state is known nobody reads for this process: reading too is only a GET more.
        return v == null || membership.id.equals(Allocation.reader(v.state())) || v.state().members().isEmpty();
    }

    @Override
    public void expect(Collection<String> sources) {
        membership.expect(sources);
        wake.run();
    }

    @Override
    public CapacityGate.ReadTicket beginRead() {
        // Right after a failed turn the coordinator has dropped its view until it reads the state again; the last one
        // it had is older than the state now, so the read covers at least what that one says. With no view at all
        // the read would be published as started at revision 0 and lose to the reading already shared (the gate
        // then learnt of a raised quota only at the next poll: ReadingAcrossAFailedTurnTest).
        Coordinator.Versioned v = coordinator.lastKnown();
        long seq = tickets.incrementAndGet();
        // The reader's own creates: every one that returned before now is in the read, shared yet or not (the single
        // gate's ticket). Without it, a reader at rest would count its last creates twice until some later read.
        OwnUsage own = usage.get();
        starts.put(seq, v == null ? new Start(-1, 0, clock.getAsLong(), SharedState.fresh(0, 0), own)
                : new Start(v.state().epoch(), v.revision(), clock.getAsLong(), v.state(), own));
        if (starts.size() > 64) {
            starts.keySet().removeIf(k -> k < seq - 64); // reads that never reported back
        }
        return new CapacityGate.ReadTicket(seq, 0);
    }

    @Override
    public void apply(CapacityGate.ReadTicket ticket, String source, List<LimitReading> readings) {
        Start s = starts.get(ticket.sequence());
        if (s == null) {
            return;
        }
        List<SharedState.Limit> limits = readings.stream()
                .map(r -> new SharedState.Limit(r.resource(), r.hard(), r.used(), r.cost())).toList();
        Map<String, SharedState.Covered> covered = covered(s.state(), source);
        covered.put(membership.id, new SharedState.Covered(s.own().created(),
                s.own().extraCreated().getOrDefault(source, Map.of())));
        membership.publish(new Publication(source, s.epoch(), s.rev(), s.at(), covered, limits, null, false, false));
        wake.run();
    }

    @Override
    public void readFailed(CapacityGate.ReadTicket ticket, String source, String error, boolean configuration) {
        Start s = starts.get(ticket.sequence());
        if (s == null) {
            return;
        }
        Collection<String> sources = source != null ? List.of(source) : s.state().sources().keySet();
        for (String name : sources) {
            membership.publish(new Publication(name, s.epoch(), s.rev(), s.at(), Map.of(), null, error, configuration, false));
        }
        wake.run();
    }

    @Override
    public void forget(CapacityGate.ReadTicket ticket, String source) {
        Start s = starts.get(ticket.sequence());
        if (s == null) {
            return;
        }
        membership.publish(new Publication(source, s.epoch(), s.rev(), s.at(), Map.of(), null, null, false, true));
        wake.run();
    }

    @Override
    public void freshReadWanted() {
        membership.freshWanted();
        wake.run();
    }

    /** Per member, its creates (and their extra units of {@code source}) shared when the read started. */
    private static Map<String, SharedState.Covered> covered(SharedState state, String source) {
        Map<String, SharedState.Covered> out = new HashMap<>();
        state.members().forEach((id, m) -> out.put(id, new SharedState.Covered(m.n(), m.x().getOrDefault(source,
                Map.of()))));
        return out;
    }
}
