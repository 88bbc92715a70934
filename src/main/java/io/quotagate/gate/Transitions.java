package io.quotagate.gate;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gate's history: the current blocked reason and since when, time spent blocked per reason, the latest
 * transitions, and the log lines about them. Every method runs under the gate's lock; a log line is returned as a
 * {@link Runnable} for the caller to run after unlocking, so logging never holds up a fetch or a settlement.
 */
final class Transitions {

    /** The gate logs as {@link CapacityGate}: operators (and tests) know that logger. */
    private static final Logger log = LoggerFactory.getLogger(CapacityGate.class);
    static final int KEPT = 20;
    /**
     * At the threshold every freed slot opens the gate for one fetch that closes it again; transitions
     * closer together than this are summarised in one line instead of two lines per completed object.
     */
    static final long LOG_WINDOW_NANOS = Duration.ofSeconds(5).toNanos();

    /**
     * What a transition records and a log line says, taken under the lock when (and only when) one is written.
     *
     * @param used      the binding limit's last read usage, -1 without one
     * @param holding   messages held plus our creates the binding limit's quota cannot include yet
     * @param reserved  permits of a fetch under way
     * @param threshold the binding limit's threshold, -1 without one
     * @param error     the first failed read's error, or null
     * @param denied    the apiserver's words while creates are forbidden, or null
     */
    record Facts(long used, long holding, long reserved, long threshold, String error, String denied) {
    }

    private final Clock clock;
    private BlockedReason reason;
    private Instant blockedSince;
    private long blockedSinceNanos;
    private final Map<BlockedReason, Long> blockedNanos = new EnumMap<>(BlockedReason.class);
    private final ArrayDeque<GateTransition> recent = new ArrayDeque<>();
    private long lastLoggedNanos = System.nanoTime() - LOG_WINDOW_NANOS;
    private int unlogged;

    Transitions(Clock clock) {
        this.clock = clock;
    }

    /** The state the gate starts in: blocked from now when {@code initial} is not null; no transition recorded. */
    void start(BlockedReason initial) {
        reason = initial;
        if (initial != null) {
            blockedSince = clock.instant();
            blockedSinceNanos = System.nanoTime();
        }
    }

    BlockedReason reason() {
        return reason;
    }

    Instant blockedSince() {
        return blockedSince;
    }

    List<GateTransition> recent() {
        return List.copyOf(recent);
    }

    /** Whether {@link #update} would do anything: the reason changes, or a summary of flapping is due. */
    boolean pending(BlockedReason now) {
        return now != reason || (unlogged > 0 && System.nanoTime() - lastLoggedNanos >= LOG_WINDOW_NANOS);
    }

    /**
     * Records a change of reason (or writes a due summary) with the facts of this moment.
     *
     * @return the log line to write once the lock is released, or null
     */
    Runnable update(BlockedReason now, Facts facts) {
        long nanoNow = System.nanoTime();
        if (now == reason) {
            return unlogged > 0 && nanoNow - lastLoggedNanos >= LOG_WINDOW_NANOS ? logLine(nanoNow, facts) : null;
        }
        Instant at = clock.instant();
        if (reason != null) {
            blockedNanos.merge(reason, nanoNow - blockedSinceNanos, Long::sum);
        }
        if (now != null) {
            blockedSinceNanos = nanoNow;
            if (reason == null) {
                blockedSince = at;
            }
        } else {
            blockedSince = null;
        }
        BlockedReason previous = reason;
        reason = now;
        recent.addLast(new GateTransition(at, now == null, now, facts.used(), facts.holding(), facts.threshold()));
        while (recent.size() > KEPT) {
            recent.removeFirst();
        }
        // Only open <-> full can flap with every fetch; an outage, a denial or a pause is reported at once.
        boolean routine = (now == null || now == BlockedReason.QUOTA_FULL)
                && (previous == null || previous == BlockedReason.QUOTA_FULL);
        if (!routine || nanoNow - lastLoggedNanos >= LOG_WINDOW_NANOS) {
            return logLine(nanoNow, facts);
        }
        unlogged++;
        return null;
    }

    /** Seconds spent blocked for {@code r}, including the current period. */
    double blockedSeconds(BlockedReason r) {
        long nanos = blockedNanos.getOrDefault(r, 0L);
        if (reason == r) {
            nanos += System.nanoTime() - blockedSinceNanos;
        }
        return nanos / 1e9;
    }

    /** Captures the state to log now; the returned line is written after the lock is released. */
    private Runnable logLine(long nanoNow, Facts f) {
        long holding = f.reserved() + f.holding();
        String flapping = unlogged == 0 ? ""
                : " (" + unlogged + " more transitions in the last " + (nanoNow - lastLoggedNanos) / 1_000_000_000L + "s)";
        lastLoggedNanos = nanoNow;
        unlogged = 0;
        BlockedReason r = reason;
        if (r == null) {
            return () -> log.info("Quota gate open: used {} + held {} of threshold {}{}", f.used(), holding,
                    f.threshold(), flapping);
        }
        if (r == BlockedReason.QUOTA_UNKNOWN) {
            return () -> log.warn("Quota gate closed ({}): {}{}", r.label(),
                    f.error() == null ? "quota not read yet" : f.error(), flapping);
        }
        if (r == BlockedReason.FORBIDDEN) {
            return () -> log.warn("Quota gate closed ({}): creates are denied, retrying with a dry-run create until "
                    + "allowed: {}", r.label(), f.denied());
        }
        return () -> log.info("Quota gate closed ({}): used {} + held {} of threshold {}{}", r.label(), f.used(),
                holding, f.threshold(), flapping);
    }
}
