package io.quotagate.gate;

import java.util.ArrayList;
import java.util.List;

/** The read-only view of the gate ({@link GateView}): snapshots taken under the lock, never used for decisions. */
final class StateSnapshot implements GateView {

    private final GateCore core;

    StateSnapshot(GateCore core) {
        this.core = core;
    }

    @Override
    public boolean enabled() {
        return core.enabled;
    }

    @Override
    public boolean paused() {
        core.lock.lock();
        try {
            return core.paused;
        } finally {
            core.lock.unlock();
        }
    }

    @Override
    public long batchesFetched() {
        core.lock.lock();
        try {
            return core.batchesFetched;
        } finally {
            core.lock.unlock();
        }
    }

    @Override
    public double blockedSeconds(BlockedReason r) {
        core.lock.lock();
        try {
            return core.transitions.blockedSeconds(r);
        } finally {
            core.lock.unlock();
        }
    }

    @Override
    public GateState state() {
        core.lock.lock();
        try {
            // A fetch waiting for messages reserves permits, but nothing is in flight until a message arrives: the
            // view shows what messages hold and what they could still take.
            long headroom = core.headroomIgnoringReservation();
            long h = core.held.get();
            long created = core.createdTotal.get();
            Limits limits = core.limits;
            Limits.Limit binding = limits.binding(created);
            List<LimitState> each = new ArrayList<>(limits.all().length);
            // Per limit: what that limit alone would let through now. Another limit binding does not zero it (the
            // operator wants to see how far each one is from full), but a gate closed for every limit (paused,
            // forbidden, unknown in fail-closed, re-reading after "exceeded quota") lets nothing through.
            boolean closedForAll = core.computeRevoked();
            for (Limits.Limit l : limits.all()) {
                LimitReading r = l.reading;
                long room = l.room(created);
                long limitRoom = room == Long.MAX_VALUE ? -1 : closedForAll ? 0 : Math.max(0, room - h);
                each.add(new LimitState(l.source.name, r.resource(), r.hard(), r.used(), l.threshold, r.cost(),
                        r.cost() * h + l.source.extraHeld(r.resource()), limitRoom));
            }
            Limits.Source failedSource = limits.firstUnknown();
            String error = failedSource == null ? null : failedSource.error;
            Transitions t = core.transitions;
            String forbidden = core.forbidden;
            return new GateState(core.enabled, t.reason() != null, t.reason(),
                    binding == null ? -1 : binding.reading.hard(), binding == null ? -1 : binding.reading.used(),
                    binding == null ? -1 : binding.threshold,
                    h, core.unobserved(null, created),
                    headroom == Long.MAX_VALUE ? -1 : headroom,
                    t.blockedSince(), core.lastCheckedAt, forbidden != null ? forbidden : error,
                    failedSource != null && failedSource.configurationError,
                    t.recent(), List.copyOf(each),
                    binding == null ? null : binding.source.name, binding == null ? null : binding.reading.resource());
        } finally {
            core.lock.unlock();
        }
    }
}
