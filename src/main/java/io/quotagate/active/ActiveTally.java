package io.quotagate.active;

import java.time.Duration;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The counting rule of the active limit, without I/O: the informer's cache ∪ the objects this process created that the
 * informer has not delivered yet. Thread-safe.
 *
 * <p>Take {@link #snapshot} after the gate's read ticket and before listing the cache: every create whose permit
 * resolved before the ticket was {@linkplain #created recorded} before it, so it is either still pending in the
 * snapshot or was {@linkplain #delivered delivered}, and then the cache listed afterwards holds it (or it is gone).
 * An object both pending and listed counts once; one pending and already deleted counts until the informer's event
 * of it is delivered — over-counting for a moment, never under-counting.
 */
final class ActiveTally {

    /** A pending object the informer never delivers is a bug elsewhere; it stops counting after this. */
    static final Duration PENDING_EXPIRY = Duration.ofMinutes(10);
    /**
     * How long a delivered key is remembered: a create's answer may reach us after the informer's event of it; it
     * must then not become pending. Far longer than any create's answer can take.
     */
    static final Duration DELIVERED_KEPT = Duration.ofMinutes(5);

    /** One object of the cache: not finished ones count, with what they charge each limit. */
    record Counted(String key, boolean finished, Map<String, Long> units) {
    }

    /** What the limits read: unfinished objects, of them those only known from our creates, and sums per resource. */
    record Totals(int unfinished, int pending, Map<String, Long> used) {
    }

    private record Pending(Map<String, Long> units, long sinceNanos) {
    }

    private final Collection<String> resources;
    private final Map<String, Pending> pending = new LinkedHashMap<>();
    private final Map<String, Long> delivered = new HashMap<>();

    /** @param resources the limited resources ({@code count}, {@code requests.cpu}, ...) */
    ActiveTally(Collection<String> resources) {
        this.resources = java.util.List.copyOf(resources);
    }

    /** This process stored the object (2xx): it counts until the informer delivers it. */
    synchronized void created(String key, Map<String, Long> units, long nowNanos) {
        if (!delivered.containsKey(key)) {
            pending.put(key, new Pending(Map.copyOf(units), nowNanos));
        }
    }

    /** The informer delivered an event of the object: its cache holds it now, or has let it go. */
    synchronized void delivered(String key, long nowNanos) {
        delivered.put(key, nowNanos);
        pending.remove(key);
    }

    /** The pending objects now; take it after the ticket, before listing the cache. */
    synchronized Map<String, Map<String, Long>> snapshot(long nowNanos) {
        pending.values().removeIf(p -> nowNanos - p.sinceNanos() > PENDING_EXPIRY.toNanos());
        delivered.values().removeIf(t -> nowNanos - t > DELIVERED_KEPT.toNanos());
        Map<String, Map<String, Long>> copy = new HashMap<>();
        pending.forEach((key, p) -> copy.put(key, p.units()));
        return copy;
    }

    /** The cache (listed after the snapshot) ∪ the snapshot's objects it does not hold. */
    Totals count(Map<String, Map<String, Long>> snapshot, Iterable<Counted> cache) {
        Map<String, Map<String, Long>> ours = new HashMap<>(snapshot);
        Map<String, Long> used = new LinkedHashMap<>();
        resources.forEach(r -> used.put(r, 0L));
        int unfinished = 0;
        for (Counted c : cache) {
            ours.remove(c.key());
            if (!c.finished()) {
                unfinished++;
                add(used, c.units());
            }
        }
        for (Map<String, Long> units : ours.values()) {
            unfinished++;
            add(used, units);
        }
        return new Totals(unfinished, ours.size(), used);
    }

    private static void add(Map<String, Long> used, Map<String, Long> units) {
        units.forEach((r, u) -> used.computeIfPresent(r, (k, sum) -> sum + u));
    }
}
