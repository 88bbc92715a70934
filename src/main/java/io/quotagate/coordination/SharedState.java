package io.quotagate.coordination;

import java.util.List;
import java.util.Map;

import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the replicas of one durable share, as it is stored in the one key of their bucket (JSON, written only with
 * compare-and-set). Immutable; {@link Allocation} holds the rules that read and change it.
 *
 * <p>Units are each limit's own (a count, milli-cpu, bytes), by quota ({@code source}) and resource. Two figures per
 * member make the accounting exact across replicas without any clock:
 * <ul>
 *   <li>{@code allow}: cumulative units the member may have consumed since it joined, created objects included. Its
 *       <em>share</em> of a quota reading is {@code allow} less what that reading covers of its creates.</li>
 *   <li>{@code n} and {@code x}: its creates so far and their extra units, shared after the creates returned. A reading
 *       records what every member had shared when the read started ({@code covered}): those creates are in its
 *       {@code used}, the rest of the member's share is not.</li>
 * </ul>
 * So for every limit, at any reading: used + Σ shares + Σ departed ≤ threshold, and every member's consumption not in
 * that reading is within its share. That is the single gate's rule, held by every member's cap.
 *
 * @param epoch    wall-clock millis when this state was created (a re-created bucket starts a new epoch)
 * @param seq      the sequence of the newest reading in {@code sources}
 * @param settle   wall-clock millis before which no member grows its allowance (a state re-created while members
 *                 ran: each must first show what it holds); 0: none
 * @param sources  per quota, the newest shared reading of it
 * @param members  per member id, what it holds and shares
 * @param departed members removed for silence, whose share stays counted until readings cover their creates
 */
record SharedState(long epoch, long seq, long settle, Map<String, Source> sources, Map<String, Member> members,
                   List<Departed> departed) {

    static final JsonMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES).build();

    SharedState {
        sources = sources == null ? Map.of() : Map.copyOf(sources);
        members = members == null ? Map.of() : Map.copyOf(members);
        departed = departed == null ? List.of() : List.copyOf(departed);
    }

    static SharedState fresh(long now, long settleUntil) {
        return new SharedState(now, 0, settleUntil, Map.of(), Map.of(), List.of());
    }

    /**
     * The newest reading of one quota.
     *
     * @param seq     its sequence ({@link SharedState#seq} when it was shared)
     * @param rev     the bucket revision the reader had seen when the read started: every member's {@code n} at
     *                that revision is in {@code covered}
     * @param at      wall-clock millis at the read's start, on the reader's clock
     * @param covered per member, its creates and their extra units (of this quota) that the reading includes
     * @param limits  the quota's limits; null when not read yet or failed
     * @param error   why the last read failed; null otherwise
     * @param configuration true when {@code error} is a configuration problem
     */
    record Source(long seq, long rev, long at, Map<String, Covered> covered, List<Limit> limits, String error,
                  boolean configuration) {
        Source {
            covered = covered == null ? Map.of() : Map.copyOf(covered);
            limits = limits == null ? null : List.copyOf(limits);
        }
    }

    /** A member's creates a reading includes: their count and, per resource, their extra units. */
    record Covered(long n, Map<String, Long> x) {
        static final Covered NONE = new Covered(0, Map.of());

        Covered {
            x = x == null ? Map.of() : Map.copyOf(x);
        }

        long units(String resource, long cost) {
            return n * cost + x.getOrDefault(resource, 0L);
        }
    }

    /** One limit of a shared reading. */
    record Limit(String resource, long hard, long used, long cost) {
    }

    /**
     * One replica.
     *
     * @param beat   its heartbeat counter: the others remove a member whose beat stops changing for a lease
     * @param since  wall-clock millis when it joined
     * @param allow  per quota and resource, cumulative units it may have consumed
     * @param n      its creates so far, as far as it has shared them
     * @param x      per quota and resource, their extra units
     * @param wish   true while its fetches come up short: holders keep no more than a fair share spare
     * @param fresh  it needs a reading started after this revision (0: none)
     */
    record Member(long beat, long since, Map<String, Map<String, Long>> allow, long n,
                  Map<String, Map<String, Long>> x, boolean wish, long fresh) {
        Member {
            allow = deepCopy(allow);
            x = deepCopy(x);
        }

        long allow(String source, String resource) {
            return allow.getOrDefault(source, Map.of()).getOrDefault(resource, 0L);
        }
    }

    /**
     * A member removed for silence. Its share of each quota stays counted until a reading of that quota started after
     * {@code until} (its last creates may still have been on their way to the apiserver when it was removed).
     */
    record Departed(String id, long until, Map<String, Map<String, Long>> share) {
        Departed {
            share = deepCopy(share);
        }
    }

    static Map<String, Map<String, Long>> deepCopy(Map<String, Map<String, Long>> m) {
        if (m == null || m.isEmpty()) {
            return Map.of();
        }
        java.util.Map<String, Map<String, Long>> out = new java.util.HashMap<>();
        m.forEach((k, v) -> out.put(k, v == null ? Map.of() : Map.copyOf(v)));
        return Map.copyOf(out);
    }

    byte[] toBytes() {
        return JSON.writeValueAsBytes(this);
    }

    static SharedState fromBytes(byte[] bytes) {
        return JSON.readValue(bytes, SharedState.class);
    }
}
