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

    /** What a charge finds: it fits (and is held), it never fits, or only a fetch's reservation is in the way. */
    private enum Verdict { NOTHING_MORE, HELD, NO_ROOM, RESERVED }

    /** Takes the lock; see {@link CapacityGate.Permit#charge}. */
    boolean charge(CapacityGate.Permit permit, Charge real) {
        Runnable logLine = null;
        boolean waiting = false;
        core.lock.lock();
        try {
            long deadline = System.nanoTime() + core.chargeWaitNanos;
            while (true) {
                if (permit.resolved()) {
                    return false;
                }
                Verdict v = tryCharge(permit, real);
                if (v == Verdict.NOTHING_MORE) {
                    return true; // the common case: nothing changed, nothing to re-derive
                }
                if (v == Verdict.HELD) {
                    logLine = core.changed(); // the extra units may have filled a limit
                    return true;
                }
                long left = deadline - System.nanoTime();
                if (v == Verdict.NO_ROOM || left <= 0) {
                    core.chargeCameShort();
                    return false;
                }
                if (!waiting) {
                    waiting = true;
                    core.chargesWaiting++;
                }
                core.capacityChanged.awaitNanos(left);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        } finally {
            if (waiting) {
                core.chargesWaiting--;
                core.capacityChanged.signalAll(); // a lease held back for this charge may go on
            }
            core.lock.unlock();
            if (logLine != null) {
                logLine.run();
            }
        }
    }

    /** Holding the lock: checks every limit and, when all fit, holds the extra units. */
    private Verdict tryCharge(CapacityGate.Permit permit, Charge real) {
        List<Extra> wanted = null;
        List<Extra> learned = null; // real costs of cost-0 limits, for their sizing once the charge is held
        boolean reservedInTheWay = false;
        long held = core.held.get(); // before the created count: see GateCore
        long created = core.createdTotal.get();
        for (Limits.Limit l : core.limits.all()) {
            String resource = l.reading.resource();
            long units = real.units(l.source.name, resource);
            long extra = units - l.reading.cost() - holding(permit, l.source, resource);
            if (extra <= 0) {
                continue;
            }
            if (l.reading.cost() == 0) {
                if (learned == null) {
                    learned = new ArrayList<>(1);
                }
                learned.add(new Extra(l.source, resource, units));
            }
            long free = l.freeUnits(core.reserved + held, created);
            if (extra > free) {
                if (extra > free + l.reading.cost() * core.reserved) {
                    return Verdict.NO_ROOM;
                }
                reservedInTheWay = true;
            }
            if (wanted == null) {
                wanted = new ArrayList<>(2);
            }
            wanted.add(new Extra(l.source, resource, extra));
        }
        if (reservedInTheWay) {
            return Verdict.RESERVED;
        }
        if (wanted == null) {
            return Verdict.NOTHING_MORE;
        }
        for (Extra e : wanted) {
            e.source().hold(e.resource(), e.units());
        }
        if (learned != null) {
            for (Extra e : learned) {
                e.source().admitted(e.resource(), e.units());
            }
        }
        if (permit.extras == null) {
            permit.extras = wanted;
        } else {
            permit.extras.addAll(wanted);
        }
        return Verdict.HELD;
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
