package io.quotagate.quota;

import java.time.Duration;
import java.util.function.LongSupplier;

/**
 * How soon after the previous quota read started the next may start while the gate is at the edge (full or
 * near-full): {@code min(maxSpacing, freedPerRead ÷ rate of freed slots)}.
 *
 * <p>At a full quota every freed slot is a watch event (two, with the quota update of the create that refills it),
 * and reading on each costs the apiserver a GET per object. Spacing the reads by the time in which
 * {@code freedPerRead} slots are expected to free makes one GET cover that many objects however fast they turn
 * over, while a trickle of frees slower than one per {@code maxSpacing} is still read at once (the previous read is
 * older than the spacing by then). The rate is measured from the reads themselves: between two reads this process
 * created Δcreated objects and {@code used} moved by Δused, so Δcreated − Δused slots were freed; those counts
 * decay with a time constant of {@code window}, which gives freed slots per second over about the last window.
 *
 * <p>{@link #readStarted()} and {@link #readApplied} are called on the quota monitor's one read thread;
 * {@link #waitNanos()} on any thread.
 */
final class EdgeReadSpacing {

    /**
     * At most a tenth of the 1 s within which freed capacity must be used again (p99): the wait adds at most this
     * to a freed slot's way back into use, leaving the rest for the quota controller, the watch, the read, the
     * fetch and the create. It also bounds reads at a full quota to 10/s for any rate of frees of at least
     * {@link #FREED_PER_READ} per {@code MAX_SPACING} (200/s); slower flows need no spacing to stay cheap.
     */
    static final Duration MAX_SPACING = Duration.ofMillis(100);
    /**
     * Freed slots one edge read should cover: twice the budget of one quota GET per 10 objects created, because
     * the spacing follows a measured rate that lags a changing flow, and reads the gate needs at once (a 403, a
     * reopening gate) and the poll come on top.
     */
    static final int FREED_PER_READ = 20;
    /**
     * Time constant of the freed-slot rate: one second, the resume budget; at the longest spacing it averages over
     * ten reads, and a flood that stops no longer shortens the spacing a second later.
     */
    static final Duration RATE_WINDOW = Duration.ofSeconds(1);

    private final long maxSpacingNanos;
    private final double freedPerRead;
    private final double windowNanos;
    private final LongSupplier nanoClock;

    /** When the latest read started, per {@link #nanoClock}; meaningful once {@link #started}. */
    private volatile long lastStartNanos;
    private volatile boolean started;
    private volatile long spacingNanos;
    private volatile double freedPerSecond;

    // Read thread only.
    private boolean havePrevious;
    private long previousCreated;
    private long previousUsed;
    /** Freed slots seen, each decayed by e^(−age / window): about rate × window. */
    private double decayedFreed;
    private long decayedAtNanos;

    EdgeReadSpacing() {
        this(MAX_SPACING, FREED_PER_READ, RATE_WINDOW, System::nanoTime);
    }

    EdgeReadSpacing(Duration maxSpacing, int freedPerRead, Duration window, LongSupplier nanoClock) {
        this.maxSpacingNanos = maxSpacing.toNanos();
        this.freedPerRead = freedPerRead;
        this.windowNanos = window.toNanos();
        this.nanoClock = nanoClock;
        this.spacingNanos = maxSpacingNanos;
    }

    /** A read starts now (call right before the GET). */
    void readStarted() {
        lastStartNanos = nanoClock.getAsLong();
        started = true;
    }

    /**
     * The read started last was applied.
     *
     * @param createdBefore objects this process had created when the read started (its ticket)
     * @param used          the quota's {@code used} that read returned
     */
    void readApplied(long createdBefore, long used) {
        long at = lastStartNanos;
        if (havePrevious) {
            long freed = Math.max(0, (createdBefore - previousCreated) - (used - previousUsed));
            decayedFreed = decayedFreed * Math.exp(-Math.max(0, at - decayedAtNanos) / windowNanos) + freed;
        }
        decayedAtNanos = at;
        havePrevious = true;
        previousCreated = createdBefore;
        previousUsed = used;
        double perNano = decayedFreed / windowNanos;
        freedPerSecond = perNano * 1e9;
        spacingNanos = perNano <= 0 ? maxSpacingNanos : (long) Math.min(maxSpacingNanos, freedPerRead / perNano);
    }

    /** How long an edge read must still wait; 0 or less: it may start now. */
    long waitNanos() {
        if (!started) {
            return 0;
        }
        return lastStartNanos + spacingNanos - nanoClock.getAsLong();
    }

    /** The current spacing. */
    Duration spacing() {
        return Duration.ofNanos(spacingNanos);
    }

    /** Freed slots per second as last measured. */
    double freedPerSecond() {
        return freedPerSecond;
    }
}
