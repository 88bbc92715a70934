package io.quotagate.coordination;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.OwnUsage;

/**
 * The rules of the shared state ({@link SharedState}), pure: who may hold how much of each limit, what a member's cap
 * is, how a reading, a prune and a member's update change the state. No I/O, no clock of its own; the property test
 * drives it with several members, delayed views and crashes.
 *
 * <p>The invariant every change keeps, per limit and at the newest reading of its quota: used + Σ members' shares +
 * Σ departed shares ≤ threshold, where a member's share is its allowance less the creates the reading covers. A member
 * grows its allowance only into the pool (threshold − used − every share − departed) of the state it writes with
 * compare-and-set, so two members never both take the same units.
 */
final class Allocation {

    private final BigDecimal ratio;

    Allocation(BigDecimal ratio) {
        this.ratio = ratio;
    }

    long threshold(SharedState.Limit l) {
        return CapacityGate.thresholdFor(l.hard(), ratio);
    }

    /** A member's share of one limit at the quota's newest reading: its allowance less what the reading covers. */
    static long share(SharedState.Source s, String id, SharedState.Member m, String source, SharedState.Limit l) {
        SharedState.Covered c = s.covered().getOrDefault(id, SharedState.Covered.NONE);
        return Math.max(0, m.allow(source, l.resource()) - c.units(l.resource(), l.cost()));
    }

    static long departedShare(SharedState state, String source, String resource) {
        long sum = 0;
        for (SharedState.Departed d : state.departed()) {
            sum += d.share().getOrDefault(source, Map.of()).getOrDefault(resource, 0L);
        }
        return sum;
    }

    /** Units of one limit no member holds: what a member may still add to its allowance. */
    long pool(SharedState state, String source, SharedState.Limit l) {
        SharedState.Source s = state.sources().get(source);
        long pool = threshold(l) - l.used() - departedShare(state, source, l.resource());
        for (Map.Entry<String, SharedState.Member> e : state.members().entrySet()) {
            pool -= share(s, e.getKey(), e.getValue(), source, l);
        }
        return pool;
    }

    /** Per quota and resource, the units beyond the newest reading member {@code id} may hold (absent: none). */
    static Map<String, Map<String, Long>> caps(SharedState state, String id) {
        SharedState.Member m = state.members().get(id);
        Map<String, Map<String, Long>> caps = new HashMap<>();
        state.sources().forEach((name, s) -> {
            Map<String, Long> per = new HashMap<>();
            if (s.limits() != null) {
                for (SharedState.Limit l : s.limits()) {
                    per.put(l.resource(), m == null ? 0 : share(s, id, m, name, l));
                }
            }
            caps.put(name, per);
        });
        return caps;
    }

    /** The member that reads the quotas for all: the least id. Null when there are none. */
    static String reader(SharedState state) {
        return state.members().isEmpty() ? null : new TreeSet<>(state.members().keySet()).first();
    }

    /**
     * The allowance member {@code id} should hold, given what its gate holds ({@code usage}): never less than what it
     * consumed (the others must count that); while no other member wishes for more, everything the pool has (one
     * replica then decides like a single gate); while another does, no more spare than a fair part of the room
     * (at least one message's cost, so a quota smaller than the members still moves).
     *
     * @param settling true while the state is young after a re-creation: no growth. Nor after, from a reading that
     *                 started before the settle ended: it may miss the last creates of members that never showed up
     */
    Map<String, Map<String, Long>> allowance(SharedState state, String id, OwnUsage usage, boolean settling) {
        SharedState.Member me = state.members().get(id);
        boolean contended = false;
        for (Map.Entry<String, SharedState.Member> e : state.members().entrySet()) {
            contended |= !e.getKey().equals(id) && e.getValue().wish();
        }
        int members = Math.max(1, state.members().size());
        Map<String, Map<String, Long>> out = new HashMap<>();
        for (Map.Entry<String, SharedState.Source> e : state.sources().entrySet()) {
            String source = e.getKey();
            if (e.getValue().limits() == null) {
                if (me != null && me.allow().containsKey(source)) {
                    out.put(source, me.allow().get(source)); // unread now: keep what was allowed
                }
                continue;
            }
            Map<String, Long> per = new HashMap<>();
            for (SharedState.Limit l : e.getValue().limits()) {
                String r = l.resource();
                long consumed = usage.consumed().getOrDefault(source, Map.of()).getOrDefault(r, 0L);
                long allow = me == null ? 0 : me.allow(source, r);
                long target;
                if (settling || e.getValue().at() <= state.settle()) {
                    target = allow;
                } else {
                    long pool = pool(state, source, l);
                    long available = allow + pool - consumed;
                    if (contended && usage.idle()) {
                        available = 0; // paused or forbidden: room held here would only keep the others waiting
                    } else if (contended) {
                        available = Math.min(available, fair(state, source, l, members));
                    }
                    target = consumed + Math.max(0, available);
                }
                per.put(r, Math.max(consumed, target));
            }
            out.put(source, per);
        }
        return out;
    }

    /**
     * A fair part of the room for one of {@code members} while others wish for more: rounded up (rounded down, the
     * remainder stayed in the pool until someone's next write; at a full quota that was most of it), at least one
     * message's cost, so a quota smaller than the members still moves.
     */
    long fair(SharedState state, String source, SharedState.Limit l, int members) {
        long room = threshold(l) - l.used() - departedShare(state, source, l.resource());
        return Math.max(Math.floorDiv(room + members - 1, members), l.cost());
    }

    /**
     * What the reader does for the others in the write it makes anyway (the one that shares a reading): the pool goes
     * to the members in {@code live} whose fetches come up short, each up to a fair part of the room as its share,
     * neediest first. Without it a follower grew only by a write of its own after it saw the reading: at a full quota
     * every freed slot cost two writes and two watch deliveries, and a fair part at a time.
     *
     * <p>Safe as a member's own growth is: only units of the pool (no member's share) are given, with compare-and-set,
     * and a member raises its cap only once it sees the state that gives them. A share of at most a fair part is no
     * more spare than the member's own rule lets it keep, so it never hands a gift straight back.
     *
     * @param live    the members heard from lately (a silent one would only hold the gift until it is removed)
     * @param settling as for {@link #allowance}: no growth
     */
    SharedState distribute(SharedState state, String readerId, Set<String> live, boolean settling) {
        if (settling) {
            return state;
        }
        List<String> wishing = new ArrayList<>();
        for (Map.Entry<String, SharedState.Member> e : new TreeMap<>(state.members()).entrySet()) {
            if (!e.getKey().equals(readerId) && e.getValue().wish() && live.contains(e.getKey())) {
                wishing.add(e.getKey());
            }
        }
        if (wishing.isEmpty()) {
            return state;
        }
        int members = Math.max(1, state.members().size());
        Map<String, Map<String, Map<String, Long>>> allow = new HashMap<>();
        for (String id : wishing) {
            allow.put(id, deepMutable(state.members().get(id).allow()));
        }
        boolean changed = false;
        for (Map.Entry<String, SharedState.Source> e : state.sources().entrySet()) {
            String source = e.getKey();
            SharedState.Source s = e.getValue();
            if (s.limits() == null || s.at() <= state.settle()) {
                continue;
            }
            for (SharedState.Limit l : s.limits()) {
                long cost = l.cost();
                if (cost <= 0) {
                    continue; // what a message costs here shows only at its charge: each member grows by itself
                }
                long pool = pool(state, source, l);
                long fair = fair(state, source, l, members);
                List<String> order = new ArrayList<>(wishing);
                order.sort(Comparator.comparingLong(
                        id -> share(s, id, state.members().get(id), source, l)));
                for (int i = 0; i < order.size() && pool >= cost; i++) {
                    String id = order.get(i);
                    long held = share(s, id, state.members().get(id), source, l);
                    // Whole messages only: split into parts smaller than a message, the pool would feed nobody (the
                    // model found three members each holding 600 of an 1,800 limit with 1,000 a message, for good).
                    long messages = pool / cost;
                    long split = (messages + order.size() - i - 1) / (order.size() - i);
                    long gift = Math.min(split, Math.floorDiv(fair - held, cost)) * cost;
                    if (gift > 0) {
                        Map<String, Long> per = allow.get(id).computeIfAbsent(source, k -> new HashMap<>());
                        per.merge(l.resource(), gift, Long::sum);
                        pool -= gift;
                        changed = true;
                    }
                }
            }
        }
        if (!changed) {
            return state;
        }
        SharedState out = state;
        for (String id : wishing) {
            SharedState.Member m = state.members().get(id);
            out = withMember(out, id, new SharedState.Member(m.beat(), m.since(), allow.get(id), m.n(), m.x(),
                    m.wish(), m.fresh()));
        }
        return out;
    }

    private static Map<String, Map<String, Long>> deepMutable(Map<String, Map<String, Long>> m) {
        Map<String, Map<String, Long>> out = new HashMap<>();
        m.forEach((k, v) -> out.put(k, new HashMap<>(v)));
        return out;
    }

    /** Member {@code id} removed for silence: its share stays as departed until readings after {@code until}. */
    static SharedState prune(SharedState state, String id, long until) {
        SharedState.Member m = state.members().get(id);
        if (m == null) {
            return state;
        }
        Map<String, Map<String, Long>> share = new HashMap<>();
        state.sources().forEach((name, s) -> {
            if (s.limits() != null) {
                Map<String, Long> per = new HashMap<>();
                for (SharedState.Limit l : s.limits()) {
                    long u = share(s, id, m, name, l);
                    if (u > 0) {
                        per.put(l.resource(), u);
                    }
                }
                if (!per.isEmpty()) {
                    share.put(name, per);
                }
            }
        });
        Map<String, SharedState.Member> members = new HashMap<>(state.members());
        members.remove(id);
        List<SharedState.Departed> departed = new ArrayList<>(state.departed());
        if (!share.isEmpty()) {
            departed.add(new SharedState.Departed(id, until, share));
        }
        return new SharedState(state.epoch(), state.seq(), state.settle(), state.sources(), members, departed);
    }

    /** The state with member {@code id} replaced (or added). */
    static SharedState withMember(SharedState state, String id, SharedState.Member m) {
        Map<String, SharedState.Member> members = new HashMap<>(state.members());
        members.put(id, m);
        return new SharedState(state.epoch(), state.seq(), state.settle(), state.sources(), members, state.departed());
    }

    /**
     * A reading of one quota shared: ignored when a reading started later is already there; else it replaces it, and
     * departed shares of this quota whose creates it surely covers go.
     *
     * @param limits null for a failed read ({@code error} says why) or for a quota only expected so far
     */
    static SharedState withReading(SharedState state, String source, long rev, long at,
                                   Map<String, SharedState.Covered> covered, List<SharedState.Limit> limits,
                                   String error, boolean configuration) {
        SharedState.Source old = state.sources().get(source);
        if (old != null && old.rev() > rev) {
            return state;
        }
        long seq = state.seq() + 1;
        Map<String, SharedState.Source> sources = new HashMap<>(state.sources());
        sources.put(source, new SharedState.Source(seq, rev, at, covered, limits, error, configuration));
        List<SharedState.Departed> departed = state.departed();
        if (limits != null) {
            departed = new ArrayList<>();
            for (SharedState.Departed d : state.departed()) {
                if (d.until() <= at && d.share().containsKey(source)) {
                    Map<String, Map<String, Long>> share = new HashMap<>(d.share());
                    share.remove(source);
                    if (!share.isEmpty()) {
                        departed.add(new SharedState.Departed(d.id(), d.until(), share));
                    }
                } else {
                    departed.add(d);
                }
            }
        }
        return new SharedState(state.epoch(), seq, state.settle(), sources, state.members(), departed);
    }

    /** A quota that is gone, unless a reading started later is already there. */
    static SharedState without(SharedState state, String source, long rev) {
        SharedState.Source old = state.sources().get(source);
        if (old == null || old.rev() > rev) {
            return state;
        }
        Map<String, SharedState.Source> sources = new HashMap<>(state.sources());
        sources.remove(source);
        return new SharedState(state.epoch(), state.seq() + 1, state.settle(), sources, state.members(),
                state.departed());
    }

    /** Quotas that must be read before any member may use the quota: unknown until their first reading. */
    static SharedState expecting(SharedState state, java.util.Collection<String> names) {
        Map<String, SharedState.Source> sources = new HashMap<>(state.sources());
        boolean changed = false;
        for (String n : names) {
            if (!sources.containsKey(n)) {
                sources.put(n, new SharedState.Source(0, 0, 0, Map.of(), null, null, false));
                changed = true;
            }
        }
        return changed ? new SharedState(state.epoch(), state.seq(), state.settle(), sources, state.members(),
                state.departed()) : state;
    }
}
