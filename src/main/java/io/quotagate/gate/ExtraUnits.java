package io.quotagate.gate;

import java.util.ArrayList;
import java.util.List;

/**
 * The extra units of a message's real cost ({@link CapacityGate.Permit#charge}): what its object charges a limit
 * beyond the cost its permit was sized with. A permit holds them while it is held; when its message is created they
 * move, with the create's index, to the limit's source as created-unobserved units until a read of that quota
 * includes the create (exactly like the message itself); when it is returned or rejected they go back. The units
 * live in {@link Limits.Source}, per resource, so every decision ({@link Limits.Limit#room}) sees them.
 */
final class ExtraUnits {

    /** Extra units a permit holds against one limit. */
    record Extra(Limits.Source source, String resource, long units) {
    }

    private final GateCore core;

    ExtraUnits(GateCore core) {
        this.core = core;
    }

    /** Takes the lock; see {@link CapacityGate.Permit#charge}. */
    boolean charge(CapacityGate.Permit permit, Charge real) {
        Runnable logLine;
        core.lock.lock();
        try {
            if (permit.resolved()) {
                return false;
            }
            List<Extra> wanted = null;
            long messages = core.reserved + core.held.get(); // held before the created count: see GateCore
            long created = core.createdTotal.get();
            for (Limits.Limit l : core.limits.all()) {
                String resource = l.reading.resource();
                long extra = real.units(l.source.name, resource) - l.reading.cost() - holding(permit, l.source, resource);
                if (extra <= 0) {
                    continue;
                }
                if (extra > l.freeUnits(messages, created)) {
                    return false;
                }
                if (wanted == null) {
                    wanted = new ArrayList<>(2);
                }
                wanted.add(new Extra(l.source, resource, extra));
            }
            if (wanted == null) {
                return true;
            }
            for (Extra e : wanted) {
                e.source().hold(e.resource(), e.units());
            }
            if (permit.extras == null) {
                permit.extras = wanted;
            } else {
                permit.extras.addAll(wanted);
            }
            logLine = core.changed(); // the extra units may have filled a limit
        } finally {
            core.lock.unlock();
        }
        if (logLine != null) {
            logLine.run();
        }
        return true;
    }

    /**
     * Without the lock (the extras are volatile, written under the lock by {@link #charge}, which the worker that
     * resolves the permit ran before): the common created permit holds none and stays lock-free.
     */
    boolean holdsAny(CapacityGate.Permit permit) {
        return permit.extras != null;
    }

    /**
     * Holding the lock: the permit's message was created. The create index and the extra units move together under
     * the lock, so a read's ticket counts both or neither.
     */
    void created(CapacityGate.Permit permit) {
        long index = core.createdTotal.incrementAndGet();
        for (Extra e : permit.extras) {
            e.source().created(e.resource(), e.units(), index);
        }
        core.held.decrementAndGet();
    }

    /** Holding the lock: the permit went back; so do its extra units. */
    void released(CapacityGate.Permit permit) {
        if (permit.extras != null) {
            for (Extra e : permit.extras) {
                e.source().release(e.resource(), e.units());
            }
        }
    }

    private static long holding(CapacityGate.Permit permit, Limits.Source source, String resource) {
        long units = 0;
        if (permit.extras != null) {
            for (Extra e : permit.extras) {
                if (e.source() == source && e.resource().equals(resource)) {
                    units += e.units();
                }
            }
        }
        return units;
    }
}
