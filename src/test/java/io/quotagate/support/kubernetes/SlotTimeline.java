package io.quotagate.support.kubernetes;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Where a freed quota slot waits before it is filled again, for a burst at a full quota: every change of one quota
 * resource's {@code used} as admission sees it, and every quota GET or list, timed (recorded until another timeline
 * replaces it). A slot freed (the controller's recount
 * lowering {@code used}) is filled by the next create, first freed first filled; the wait splits into the part
 * before a quota GET started after the free (reading) and the rest (the reading reaching a gate, a fetch, the
 * create). By Little's law these waits are what separates a burst's throughput from {@code hard ÷ object lifetime}.
 */
public final class SlotTimeline {

    private final String key;
    private final List<long[]> changes = new ArrayList<>(); // {nanos, used}
    private final List<Long> reads = new ArrayList<>();

    SlotTimeline(String key) {
        this.key = key;
    }

    boolean tracks(String quotaKey) {
        return key.equals(quotaKey);
    }

    synchronized void used(long nanos, long used) {
        changes.add(new long[] {nanos, used});
    }

    synchronized void read(long nanos) {
        reads.add(nanos);
    }

    /**
     * The waits of the slots freed from {@code fromNanos} on, and {@code used} averaged up to {@code toNanos}; with
     * {@code hard} slots in all and none used when the timeline started (those first slots are filled, but not
     * counted: they waited for the burst, not for a free).
     */
    public synchronized Summary summary(long fromNanos, long toNanos, long hard) {
        ArrayDeque<Long> free = new ArrayDeque<>();
        for (long i = 0; i < hard; i++) {
            free.add(Long.MIN_VALUE);
        }
        long used = 0;
        long filled = 0;
        double wait = 0;
        double reading = 0;
        int r = 0;
        double usedTime = 0;
        long last = fromNanos;
        for (long[] c : changes) {
            long t = c[0];
            if (t > fromNanos && last < toNanos) {
                usedTime += (double) used * (Math.min(t, toNanos) - last);
                last = Math.min(t, toNanos);
            }
            for (long i = used; i > c[1]; i--) {
                free.add(t);
            }
            for (long i = used; i < c[1] && !free.isEmpty(); i++) {
                long freedAt = free.poll();
                if (freedAt < fromNanos) {
                    continue;
                }
                while (r < reads.size() && reads.get(r) < freedAt) {
                    r++;
                }
                long firstRead = r < reads.size() ? reads.get(r) : t;
                filled++;
                wait += t - freedAt;
                reading += Math.min(t, firstRead) - freedAt;
            }
            used = c[1];
        }
        if (last < toNanos) {
            usedTime += (double) used * (toNanos - last);
        }
        return new Summary(filled, filled == 0 ? 0 : wait / filled / 1e6, filled == 0 ? 0 : reading / filled / 1e6,
                toNanos > fromNanos ? usedTime / (toNanos - fromNanos) : 0);
    }

    /**
     * @param slots     freed slots filled again
     * @param waitMs    mean from the free (as the controller recorded it) to the create that filled it
     * @param readingMs the part of that before the first quota GET that started after the free
     * @param meanUsed  {@code used} as admission saw it, averaged over the span
     */
    public record Summary(long slots, double waitMs, double readingMs, double meanUsed) {
        @Override
        public String toString() {
            return String.format(Locale.ROOT, "mean used %.1f; freed slots refilled %d after %.1f ms (%.1f until a "
                    + "quota GET, %.1f after)", meanUsed, slots, waitMs, readingMs, waitMs - readingMs);
        }
    }
}
