package io.quotagate.gate;

import java.math.BigDecimal;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The quotas the gate has read (its <em>sources</em>) and the limits they carry: one per (quota, resource). Each
 * source keeps its own read sequence and its own count of our creates its newest applied read includes, because a
 * read of one quota says nothing about another. Not thread-safe: the gate's lock guards it.
 *
 * <p>In messages, a limit with threshold T, reading U and cost c has room floor((T − U − x) ÷ c) − k, where k are the
 * messages this process holds, reserves or created but the quota's newest read cannot include, and x the
 * <em>extra units</em> of such messages: what their real cost ({@link CapacityGate.Permit#charge}) adds beyond c.
 * Since every message charges at least c, c·k + x ≤ T − U after any grant: the exact per-limit count in the
 * resource's units. A limit of cost 0 (the template's object is not charged the resource, a message's parameters may
 * add it) is kept exact by the extra units alone; it sizes fetches by the last admitted message's cost
 * ({@link Limit#room}), and bounds no number of messages before any was admitted.
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
        /** Per resource, extra units of messages held (fetched, not yet resolved); no zero entries. */
        private final Map<String, Long> extraHeld = new HashMap<>();
        /** Per resource, extra units of messages created that this quota's newest read cannot include yet. */
        private final Map<String, Long> extraUnobserved = new HashMap<>();
        /** The created extra units behind {@link #extraUnobserved}, oldest first, by create index. */
        private final ArrayDeque<CreatedExtra> createdExtras = new ArrayDeque<>();
        /** Per resource its limit's template does not charge (cost 0): the real cost of the last message admitted. */
        private final Map<String, Long> lastAdmitted = new HashMap<>();
        /** Per resource, every extra unit of our creates so far: replicas share it ({@link CapacityGate#usage}). */
        final Map<String, Long> extraCreatedTotal = new HashMap<>();
        /**
         * Per resource, the units beyond this quota's newest applied reading that this process may hold, given by the
         * replicas' coordination ({@link CapacityGate#applyShared}); null while this process decides alone.
         */
        Map<String, Long> caps;

        Source(String name) {
            this.name = name;
        }

        /** Extra units held or created unobserved for this resource; 0 in the common case without a map lookup. */
        long extraUnits(String resource) {
            if (extraHeld.isEmpty() && extraUnobserved.isEmpty()) {
                return 0;
            }
            return extraHeld.getOrDefault(resource, 0L) + extraUnobserved.getOrDefault(resource, 0L);
        }

        /** A message whose object charges {@code units} of a cost-0 limit's resource was admitted. */
        void admitted(String resource, long units) {
            lastAdmitted.put(resource, units);
        }

        /** The cost a cost-0 limit sizes fetches with: the last admitted message's; 0 before any. */
        long sizingCost(String resource) {
            return lastAdmitted.isEmpty() ? 0 : lastAdmitted.getOrDefault(resource, 0L);
        }

        long extraHeld(String resource) {
            return extraHeld.isEmpty() ? 0 : extraHeld.getOrDefault(resource, 0L);
        }

        void hold(String resource, long units) {
            add(extraHeld, resource, units);
        }

        void release(String resource, long units) {
            add(extraHeld, resource, -units);
        }

        /** Held extra units became part of an object created as our {@code index}-th create. */
        void created(String resource, long units, long index) {
            add(extraHeld, resource, -units);
            extraCreatedTotal.merge(resource, units, Long::sum);
            if (index > createdObserved) {
                add(extraUnobserved, resource, units);
                createdExtras.addLast(new CreatedExtra(index, resource, units));
            }
        }

        /** Forgets created extra units a read now includes (its ticket counted their create). */
        void observedUpTo(long createdIndex) {
            while (!createdExtras.isEmpty() && createdExtras.peekFirst().index() <= createdIndex) {
                CreatedExtra e = createdExtras.removeFirst();
                add(extraUnobserved, e.resource(), -e.units());
            }
        }

        private static void add(Map<String, Long> map, String resource, long units) {
            long now = map.getOrDefault(resource, 0L) + units;
            if (now == 0) {
                map.remove(resource);
            } else {
                map.put(resource, now);
            }
        }
    }

    private record CreatedExtra(long index, String resource, long units) {
    }

    static final class Limit {
        final Source source;
        final LimitReading reading;
        final long threshold;
        /** floorDiv(threshold − used, cost): messages that fit by the reading alone; unbounded at cost 0. */
        final long fits;

        Limit(Source source, LimitReading reading, BigDecimal ratio) {
            this.source = source;
            this.reading = reading;
            this.threshold = CapacityGate.thresholdFor(reading.hard(), ratio);
            this.fits = reading.cost() == 0 ? Long.MAX_VALUE : Math.floorDiv(threshold - reading.used(), reading.cost());
        }

        /**
         * Units this process may still fill by the reading: threshold − used, or less when replicas share the quota
         * and this one's cap is lower (the rest is the other replicas' to hold).
         */
        long available() {
            long a = threshold - reading.used();
            Map<String, Long> caps = source.caps;
            if (caps == null) {
                return a;
            }
            return Math.min(a, caps.getOrDefault(reading.resource(), 0L));
        }

        /**
         * Messages that fit, less our creates this quota's newest read cannot include yet (messages held or reserved
         * are subtracted by the caller, once for all limits). {@link Long#MAX_VALUE} for a limit of cost 0.
         */
        long room(long createdTotal) {
            if (reading.cost() == 0) {
                // The template charges nothing here, so only each message's charge before its create keeps the limit
                // exact. Fetches are sized as if the next message cost what the last admitted one did: without that,
                // a full limit would let whole batches be fetched only to go back to JetStream one by one. Sizing
                // only: a message that fits (or charges 0) is still admitted by its charge. The last admitted cost
                // fitted under the threshold, so once the limit's work is gone the gate opens again.
                long per = source.sizingCost(reading.resource());
                if (per <= 0) {
                    return Long.MAX_VALUE;
                }
                return Math.floorDiv(available() - source.extraUnits(reading.resource()), per);
            }
            long extra = source.extraUnits(reading.resource());
            long f = extra == 0 && source.caps == null ? fits : Math.floorDiv(available() - extra, reading.cost());
            return f - (createdTotal - source.createdObserved);
        }

        /**
         * Units of this limit still free for extra units: the threshold less the reading, the extra units held or
         * unobserved, and the cost of every message held, reserved or created unobserved ({@code messages}
         * are the first two; our creates the quota cannot include are added here).
         */
        long freeUnits(long messages, long createdTotal) {
            long k = messages + (createdTotal - source.createdObserved);
            return available() - source.extraUnits(reading.resource()) - reading.cost() * k;
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
        s.observedUpTo(s.createdObserved);
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

    /**
     * Fewest messages any limit of a readable source still fits; {@link Long#MAX_VALUE} when there is none. A source
     * whose last read failed limits nothing here: fail-mode closed stops the gate before asking, fail-mode open lets
     * the unreadable quota through while the quotas that were read still limit.
     */
    long minRoom(long createdTotal) {
        long min = Long.MAX_VALUE;
        for (Limit l : all) {
            if (!l.source.unknown) {
                min = Math.min(min, l.room(createdTotal));
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
