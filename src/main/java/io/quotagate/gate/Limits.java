package io.quotagate.gate;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The quotas the gate has read (its <em>sources</em>) and the limits they carry: one per (quota, resource). Each
 * source keeps its own read sequence and its own count of our creates its newest applied read includes, because a
 * read of one quota says nothing about another. Not thread-safe: the gate's lock guards it.
 *
 * <p>In messages, a limit with threshold T, reading U and cost c has room floor((T − U) ÷ c) − k, where k are the
 * messages this process holds, reserves or created but the quota's newest read cannot include; since every message
 * charges the same c, that equals floor((T − U − c·k) ÷ c): the exact per-limit count in the resource's units.
 */
final class Limits {

    static final class Source {
        final String name;
        /** Sequence of the newest applied read of this quota (0: none). */
        long newestApplied;
        /** Our creates the newest applied read of this quota includes for sure. */
        long createdObserved;
        boolean unknown = true;
        String error;
        boolean configurationError;
        Limit[] limits = new Limit[0];

        Source(String name) {
            this.name = name;
        }
    }

    static final class Limit {
        final Source source;
        final LimitReading reading;
        final long threshold;
        /** floorDiv(threshold − used, cost): messages that fit by the reading alone. */
        final long fits;

        Limit(Source source, LimitReading reading, BigDecimal ratio) {
            this.source = source;
            this.reading = reading;
            this.threshold = CapacityGate.thresholdFor(reading.hard(), ratio);
            this.fits = Math.floorDiv(threshold - reading.used(), reading.cost());
        }

        /** Messages that fit, less our creates this quota's newest read cannot include yet. */
        long room(long createdTotal) {
            return fits - (createdTotal - source.createdObserved);
        }
    }

    private final BigDecimal ratio;
    private final Map<String, Source> sources = new LinkedHashMap<>();
    /** Every source's limits, flat: the check before each fetch walks this. */
    private Limit[] all = new Limit[0];
    private int unknownSources;

    Limits(BigDecimal ratio) {
        this.ratio = ratio;
    }

    /** No source read yet, or one whose last read failed. */
    boolean unknown() {
        return sources.isEmpty() || unknownSources > 0;
    }

    boolean isEmpty() {
        return sources.isEmpty();
    }

    Collection<Source> sources() {
        return sources.values();
    }

    Source source(String name) {
        return sources.computeIfAbsent(name, n -> {
            unknownSources++;
            return new Source(n);
        });
    }

    /** The one source, or null when there are none or several. */
    Source only() {
        return sources.size() == 1 ? sources.values().iterator().next() : null;
    }

    void applied(Source s, long sequence, long createdBefore, Collection<LimitReading> readings) {
        s.newestApplied = sequence;
        s.createdObserved = Math.max(s.createdObserved, createdBefore);
        Limit[] limits = new Limit[readings.size()];
        int i = 0;
        for (LimitReading r : readings) {
            limits[i++] = new Limit(s, r, ratio);
        }
        s.limits = limits;
        if (s.unknown) {
            unknownSources--;
        }
        s.unknown = false;
        s.error = null;
        s.configurationError = false;
        flatten();
    }

    void failed(Source s, String error, boolean configuration) {
        if (!s.unknown) {
            unknownSources++;
        }
        s.unknown = true;
        s.error = error;
        s.configurationError = configuration;
    }

    void remove(Source s) {
        if (sources.remove(s.name) != null) {
            if (s.unknown) {
                unknownSources--;
            }
            flatten();
        }
    }

    /** True when every source has an applied read started after {@code sequence}. */
    boolean allReadAfter(long sequence) {
        for (Source s : sources.values()) {
            if (s.newestApplied <= sequence) {
                return false;
            }
        }
        return true;
    }

    /** The first source whose last read failed, or null. */
    Source firstUnknown() {
        for (Source s : sources.values()) {
            if (s.unknown) {
                return s;
            }
        }
        return null;
    }

    /** Fewest messages any limit still fits; {@link Long#MAX_VALUE} when there is no limit. */
    long minRoom(long createdTotal) {
        long min = Long.MAX_VALUE;
        for (Limit l : all) {
            long room = l.room(createdTotal);
            if (room < min) {
                min = room;
            }
        }
        return min;
    }

    /** The limit with the least room (the first of equals), or null when there is none. */
    Limit binding(long createdTotal) {
        Limit best = null;
        long min = Long.MAX_VALUE;
        for (Limit l : all) {
            long room = l.room(createdTotal);
            if (best == null || room < min) {
                best = l;
                min = room;
            }
        }
        return best;
    }

    /** Our creates that the quota read longest ago cannot include yet. */
    long maxUnobserved(long createdTotal) {
        long max = 0;
        for (Source s : sources.values()) {
            max = Math.max(max, createdTotal - s.createdObserved);
        }
        return max;
    }

    Limit[] all() {
        return all;
    }

    private void flatten() {
        List<Limit> flat = new ArrayList<>();
        for (Source s : sources.values()) {
            flat.addAll(List.of(s.limits));
        }
        all = flat.toArray(new Limit[0]);
    }
}
