package io.quotagate.gate;

import java.util.Collection;
import java.util.List;
import java.util.Map;

/**
 * The quota monitor's protocol, behind {@link CapacityGate}'s read methods: {@link #beginRead()} immediately before
 * the request, then per quota the request returned {@link #apply} or {@link #readFailed} with that ticket (a read of
 * a quota carries every limit of it), or {@link #forget} for a quota that is gone. A read overtaken by a newer
 * applied read of the same quota is ignored. The quota is unknown until every quota named by {@link #expect} or seen
 * since has a good read, and again after a failed read of any.
 */
final class QuotaReads {

    private final GateCore core;

    QuotaReads(GateCore core) {
        this.core = core;
    }

    CapacityGate.ReadTicket beginRead() {
        core.lock.lock();
        try {
            return new CapacityGate.ReadTicket(++core.readsStarted, core.createdTotal.get());
        } finally {
            core.lock.unlock();
        }
    }

    void expect(Collection<String> sources) {
        core.mutate(() -> sources.forEach(core.limits::source));
    }

    void apply(CapacityGate.ReadTicket ticket, QuotaReading newReading) {
        Map.Entry<String, LimitReading> only = asOnly(newReading);
        apply(ticket, only.getKey(), List.of(only.getValue()));
    }

    /** The single-limit reading of the original sensor as a reading of the gate's one quota. */
    Map.Entry<String, LimitReading> asOnly(QuotaReading newReading) {
        String source;
        String resource = "";
        core.lock.lock();
        try {
            Limits.Source only = core.limits.only();
            if (only == null && !core.limits.isEmpty()) {
                throw new IllegalStateException("the gate reads several quotas: name the one this reading is of");
            }
            source = only == null ? "" : only.name;
            if (only != null && only.limits.length == 1) {
                resource = only.limits[0].reading.resource();
            }
        } finally {
            core.lock.unlock();
        }
        return Map.entry(source, new LimitReading(resource, newReading.hard(), newReading.used(), 1));
    }

    void apply(CapacityGate.ReadTicket ticket, String source, Collection<LimitReading> readings) {
        List<LimitReading> copy = List.copyOf(readings);
        core.mutate(() -> {
            Limits.Source s = core.limits.source(source);
            if (ticket.sequence() <= s.newestApplied) {
                return;
            }
            core.limits.applied(s, ticket.sequence(), ticket.createdBefore(), copy);
            clearRejectionIfReadAgain();
            core.lastCheckedAt = core.clock.instant();
        });
    }

    void readFailed(CapacityGate.ReadTicket ticket, String error, boolean configuration) {
        core.mutate(() -> {
            if (core.limits.isEmpty()) {
                core.limits.source("");
            }
            for (Limits.Source s : core.limits.sources()) {
                failed(s, ticket, error, configuration);
            }
        });
    }

    void readFailed(CapacityGate.ReadTicket ticket, String source, String error, boolean configuration) {
        core.mutate(() -> failed(core.limits.source(source), ticket, error, configuration));
    }

    void forget(CapacityGate.ReadTicket ticket, String source) {
        core.mutate(() -> {
            for (Limits.Source s : List.copyOf(core.limits.sources())) {
                if (s.name.equals(source) && ticket.sequence() > s.newestApplied) {
                    core.limits.remove(s);
                    clearRejectionIfReadAgain();
                }
            }
        });
    }

    List<String> sources() {
        core.lock.lock();
        try {
            return core.limits.sources().stream().map(s -> s.name).toList();
        } finally {
            core.lock.unlock();
        }
    }

    boolean wantsFreshRead() {
        core.lock.lock();
        try {
            if (!core.enabled) {
                return false;
            }
            if (core.transitions.reason() != null || core.limits.unknown()) {
                return true;
            }
            return core.headroomForMessages() < 2L * core.lastRequested;
        } finally {
            core.lock.unlock();
        }
    }

    private void failed(Limits.Source s, CapacityGate.ReadTicket ticket, String error, boolean configuration) {
        if (ticket.sequence() <= s.newestApplied) {
            return;
        }
        core.limits.failed(s, error, configuration);
    }

    void clearRejectionIfReadAgain() {
        if (core.rejectedAtRead >= 0 && core.limits.allReadAfter(core.rejectedAtRead)) {
            core.rejectedAtRead = -1;
        }
    }
}
