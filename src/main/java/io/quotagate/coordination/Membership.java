package io.quotagate.coordination;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import io.quotagate.gate.OwnUsage;

/**
 * One member's decisions, without I/O: given the newest state it has seen and what its gate holds, the state it should
 * write next (or nothing). Its heartbeat, its allowance, the creates it shares, the readings it publishes as reader,
 * and the silent members it removes. Driven by {@link Coordinator} (one thread) and by the property test.
 */
final class Membership {

    final String id;
    private final Allocation allocation;
    private final long leaseMillis;
    private final long requestTimeoutMillis;
    /** Per other member: the beat last seen and when it was last seen to change (this process's clock). */
    private final Map<String, long[]> seen = new HashMap<>();
    /** See {@link #departedWait}. */
    static final long DEPARTED_SLACK_MILLIS = 1_000;
    private final List<Publication> publications = new ArrayList<>();
    private final Set<String> expected = new LinkedHashSet<>();
    private long lastBeatAt = Long.MIN_VALUE / 2;
    private long lastWrittenBeat;
    private long lastObservedAt = Long.MIN_VALUE / 2;
    private boolean freshWanted;
    /** What the latest {@link #next} carried, so {@link #written} forgets exactly that. */
    private int publicationsInNext;
    private boolean freshInNext;

    Membership(String id, Allocation allocation, long leaseMillis, long requestTimeoutMillis) {
        this.id = id;
        this.allocation = allocation;
        this.leaseMillis = leaseMillis;
        this.requestTimeoutMillis = requestTimeoutMillis;
    }

    synchronized void publish(Publication p) {
        publications.add(p);
    }

    synchronized void expect(Collection<String> sources) {
        expected.addAll(sources);
    }

    synchronized void freshWanted() {
        freshWanted = true;
    }

    /**
     * The state to write after {@code state} (read at {@code rev}), or null when nothing needs writing.
     *
     * @param now this process's wall clock, millis
     */
    synchronized SharedState next(SharedState state, long rev, OwnUsage usage, long now) {
        observe(state, now);
        publicationsInNext = publications.size();
        freshInNext = freshWanted;
        SharedState s = state;
        if (!expected.isEmpty()) {
            s = Allocation.expecting(s, expected);
        }
        for (Publication p : publications) {
            if (p.epoch() >= 0 && p.epoch() != s.epoch()) {
                // Begun under a state that has since been started again: its revision says nothing about this one's
                // readings (a high one would shut out every later reading). Dropped; the next read is published.
                continue;
            }
            s = p.gone() ? Allocation.without(s, p.source(), p.rev())
                    : Allocation.withReading(s, p.source(), p.rev(), p.at(), p.covered(), p.limits(), p.error(),
                    p.configuration());
        }
        for (String other : silent(s, now)) {
            s = Allocation.prune(s, other, now + departedWait());
        }
        SharedState.Member me = s.members().get(id);
        boolean beatDue = me == null || now - lastBeatAt >= leaseMillis / 4;
        long beat = me == null ? 1 : me.beat() + (beatDue ? 1 : 0);
        long since = me == null ? now : me.since();
        long fresh = freshWanted ? rev : me == null ? 0 : me.fresh();
        if (fresh > 0 && readAfter(s, fresh)) {
            fresh = 0; // every quota has a reading started after it was asked for
        }
        // An idle member (paused, forbidden) wishes for nothing: the reader would give it room it hands straight back.
        boolean wish = usage.capBound() && !usage.idle();
        // Creates are shared when it matters: a reading only covers what was shared before it started, and until it
        // does, they count twice (in used and in the share). Sharing each one would be a write per create.
        boolean shareCreates = me == null || beatDue || wish || contended(s) || fresh != 0;
        long n = shareCreates ? usage.created() : me.n();
        Map<String, Map<String, Long>> x = shareCreates ? usage.extraCreated() : me.x();
        SharedState.Member draft = new SharedState.Member(beat, since, me == null ? usage.consumed() : me.allow(), n, x,
                wish, fresh);
        SharedState withDraft = Allocation.withMember(s, id, draft);
        Map<String, Map<String, Long>> allow = allocation.allowance(withDraft, id, usage, now < s.settle());
        SharedState.Member next = new SharedState.Member(beat, since, allow, n, x, wish, fresh);
        SharedState result = Allocation.withMember(s, id, next);
        if (!shareCreates && !result.equals(state)) {
            // Writing anyway: share the creates with it.
            next = new SharedState.Member(beat, since, allow, usage.created(), usage.extraCreated(), wish, fresh);
            result = Allocation.withMember(s, id, next);
        }
        if (id.equals(Allocation.reader(result))) {
            result = allocation.distribute(result, id, live(result, now), now < s.settle());
        }
        return result.equals(state) ? null : result;
    }

    /**
     * The state the latest {@link #next} returned was written: what it carried is shared. (After a failed write
     * nothing is forgotten; the next {@link #next} on the newer state carries it again.)
     */
    synchronized void written(SharedState written, long now) {
        SharedState.Member me = written.members().get(id);
        if (me != null && me.beat() != lastWrittenBeat) {
            lastWrittenBeat = me.beat();
            lastBeatAt = now;
        }
        publications.subList(0, Math.min(publicationsInNext, publications.size())).clear();
        publicationsInNext = 0;
        if (freshInNext) {
            freshWanted = false;
        }
        freshInNext = false;
    }

    private void observe(SharedState state, long now) {
        if (now - lastObservedAt > leaseMillis / 2) {
            // This process saw nothing for a while (NATS away, a long pause): the others' silence is its own. Their
            // clocks start again now, so nobody is removed for a gap that was ours. Half a lease, not the heartbeat
            // period: an idle member's turns come a heartbeat (lease / 4) plus the turn itself apart, so at lease / 4
            // every quiet turn cleared the clocks and a dead member stayed (ReplicaKillIT: 7-18 s with a 4 s lease).
            seen.clear();
        }
        lastObservedAt = now;
        for (Map.Entry<String, SharedState.Member> e : state.members().entrySet()) {
            if (e.getKey().equals(id)) {
                continue;
            }
            long[] s = seen.get(e.getKey());
            if (s == null || s[0] != e.getValue().beat()) {
                seen.put(e.getKey(), new long[] {e.getValue().beat(), now});
            }
        }
        seen.keySet().retainAll(state.members().keySet());
    }

    /** The other members whose beat was seen to change within half a lease: the reader gives room only to them. */
    private Set<String> live(SharedState state, long now) {
        Set<String> out = new HashSet<>();
        for (String other : state.members().keySet()) {
            long[] s = seen.get(other);
            if (s != null && now - s[1] <= leaseMillis / 2) {
                out.add(other);
            }
        }
        return out;
    }

    /**
     * Millis from {@code now} until another member's silence has lasted a lease (it is removed at the turn after), or
     * {@link Long#MAX_VALUE} when none is watched: the coordination takes a turn then, not up to a heartbeat later.
     */
    synchronized long nextSilenceDue(long now) {
        long due = Long.MAX_VALUE;
        for (long[] s : seen.values()) {
            due = Math.min(due, Math.max(0, s[1] + leaseMillis + 1 - now));
        }
        return due;
    }

    private List<String> silent(SharedState state, long now) {
        List<String> out = new ArrayList<>();
        for (String other : state.members().keySet()) {
            long[] s = seen.get(other);
            if (!other.equals(id) && s != null && now - s[1] > leaseMillis) {
                out.add(other);
            }
        }
        return out;
    }

    private boolean contended(SharedState s) {
        for (Map.Entry<String, SharedState.Member> e : s.members().entrySet()) {
            if (!e.getKey().equals(id) && e.getValue().wish()) {
                return true;
            }
        }
        return false;
    }

    private static boolean readAfter(SharedState s, long rev) {
        for (SharedState.Source src : s.sources().values()) {
            if (src.rev() <= rev) {
                return false;
            }
        }
        return !s.sources().isEmpty();
    }

    /**
     * How long after removing a silent member its share stays counted: a second. The others remove it a lease after
     * they saw its last heartbeat change, and it ends every create it started by a lease after it began the turn that
     * wrote that heartbeat ({@link #createsEndBy}), which is earlier. The second is for what the model does not have:
     * a client whose timeout fires late (a pause), and an apiserver that stores a create its client has just given up
     * on. Before the creates were bounded so, this was a request timeout (ReplicasPropertiesTest found creates stored
     * after a shorter wait), and a dead member's permits came back a lease and a request timeout after it died.
     */
    long departedWait() {
        return DEPARTED_SLACK_MILLIS;
    }

    /**
     * By when every create of this member must have ended, given the turn that wrote its latest heartbeat began at
     * {@code beatAt} (its own clock): a lease later, when the others may remove it for silence. The trigger gives each
     * create at most what is left of that (and never more than its request timeout), so a member cut off from NATS
     * has nothing on the wire by the time its share goes, however long the request timeout.
     */
    long createsEndBy(long beatAt) {
        return beatAt + leaseMillis;
    }

    /**
     * Until when a create may start: while it still has a quarter of a lease (or its whole request timeout, when that
     * is shorter) before {@link #createsEndBy}. Heartbeats are written every quarter of a lease, half a lease apart
     * at worst, so a member in touch never gets near it; one cut off stops starting creates three quarters of a lease
     * after its last heartbeat.
     */
    long createsStartBy(long beatAt) {
        return createsEndBy(beatAt) - Math.min(requestTimeoutMillis, leaseMillis / 4);
    }

    /** When the beat of {@code other} was last seen to change, this process's wall clock; null when never. */
    synchronized Long lastBeatSeen(String other) {
        long[] s = seen.get(other);
        return s == null ? null : s[1];
    }

    /** When this member's own heartbeat was last written, this process's wall clock; null before. */
    synchronized Long lastBeatWritten() {
        return lastWrittenBeat == 0 ? null : lastBeatAt;
    }

    long leaseMillis() {
        return leaseMillis;
    }

    @Override
    public String toString() {
        return "Membership[" + id + "]";
    }
}
