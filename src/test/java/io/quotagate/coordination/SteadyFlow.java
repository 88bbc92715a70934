package io.quotagate.coordination;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.fail;

/**
 * The replicas at work after the random phase ({@link ReplicaWorld}): in rounds, every live replica takes its turn,
 * fetches whatever the backlog has, sends, stores and answers creates; objects finish; the reader reads on a change
 * of the quota (while the gate wants a fresh read), when asked, and every poll interval. At most one scripted fault
 * falls in it. Every message offered must be created (no replica starves while another holds room it does not use),
 * and nothing dead may stay in the shared state for longer than the fault's bound.
 */
final class SteadyFlow {

    /** The fault scripted into the flow. */
    enum Fault {
        NONE,
        /** The replica with the most creates on the wire dies; they are stored at their last moment, or never. */
        KILL,
        /**
         * A replica is cut off from NATS with creates on the wire, and the bucket loses the shared state meanwhile (a
         * NATS restart on memory storage): the others start it again without knowing what the cut-off one holds.
         */
        LOSE_STATE_WHILE_CUT,
        /**
         * The replica with the most creates on the wire is cut off from NATS for longer than a lease and a request
         * timeout: it goes on creating until its gate closes, and its last creates are stored at their last moment.
         */
        CUT,
        /** An operator pauses one replica for good: it holds what it was allowed and fetches nothing. */
        PAUSE
    }

    /** Longest time beyond the lease a killed replica's room took to come back, in sim millis. */
    static final AtomicLong roomBack = new AtomicLong(Long.MIN_VALUE);

    private SteadyFlow() {
    }

    static void run(ReplicaWorld w, Random random, Fault fault) {
        for (Replica r : w.replicas) {
            if (r.link.cut) {
                w.cut(r, false);
            }
        }
        long poll = 1_000 + random.nextLong(30_000);
        long round = 20 + random.nextLong(500);
        int batch = 1 + random.nextInt(10);
        // Some runs miss the quota's watch events (they may come late or not at all): only the poll and the reads
        // the gate or the coordination ask for keep the reading current.
        boolean events = random.nextInt(3) > 0;
        w.log("--- steady flow: poll " + poll + ", rounds of " + round + " ms, batch " + batch + ", fault " + fault
                + (events ? "" : ", no quota events"));
        long start = w.now;
        // Crashed in the random phase: pruned a lease after its last beat seen, kept for a request timeout (its
        // creates on the wire), then read.
        long cleanBy = start + w.lease + w.turnGap + w.requestTimeout + poll + 5 * round + 5_000;
        long patience = 2 * w.lease + w.requestTimeout + poll + w.lifetime + 10_000;
        long faultAt = fault == Fault.NONE ? -1 : start + random.nextLong(20_000);
        long loseAt = -1;
        long healAt = -1;
        Replica cut = null;
        long killedAt = -1;
        long lastProgress = w.now;
        long created = w.createdByReplicas;
        int[] seenVersion = new int[w.replicas.size()];
        while (true) {
            if (faultAt >= 0 && w.now >= faultAt) {
                faultAt = -1;
                Replica victim = w.live().stream().max(Comparator.comparingInt(r -> r.sent.size())).orElseThrow();
                if (fault == Fault.PAUSE) {
                    victim.gate.pause();
                    w.log(victim.id + " is PAUSED");
                } else if (fault == Fault.KILL) {
                    w.crash(victim);
                    killedAt = w.now;
                    // Removed a lease after its last beat seen (its creates ended by then), kept a second more, then
                    // a read asked for at once: no poll interval in between (the quota may be quiet that long).
                    cleanBy = w.now + w.lease + Membership.DEPARTED_SLACK_MILLIS + 2 * w.turnGap + 8 * round + 2_000;
                } else {
                    cut = victim;
                    w.cut(cut, true);
                    loseAt = fault == Fault.CUT ? -1 : w.now + random.nextLong(w.lease / 2);
                    healAt = w.now + w.lease + w.requestTimeout + random.nextLong(w.lease);
                    cleanBy = healAt + 2 * w.lease + w.requestTimeout + poll + 10 * round;
                }
            }
            if (loseAt >= 0 && w.now >= loseAt) {
                loseAt = -1;
                w.store.expireAll();
                w.log("the bucket LOSES the shared state");
            }
            if (healAt >= 0 && w.now >= healAt) {
                healAt = -1;
                w.cut(cut, false);
            }
            boolean clean = clean(w);
            if (killedAt >= 0 && clean) {
                roomBack.accumulateAndGet(w.now - killedAt - w.lease, Math::max);
                killedAt = -1;
            }
            boolean faultsOver = faultAt < 0 && loseAt < 0 && healAt < 0;
            if (w.backlog == 0 && clean && faultsOver && w.live().stream().allMatch(Replica::idle)) {
                return;
            }
            if (!clean && w.now > cleanBy) {
                fail("dead replicas still hold room %d ms into the steady flow (%d ms after a kill): %s%n%s",
                        w.now - start, killedAt < 0 ? -1 : w.now - killedAt, w.stored(), dump(w));
            }
            if (w.createdByReplicas != created || w.backlog == 0) {
                created = w.createdByReplicas;
                lastProgress = w.now;
            }
            if (w.now - lastProgress > patience + (faultsOver ? 0 : w.lease + w.requestTimeout)) {
                fail("%d messages wait, nothing created for %d ms%n%s", w.backlog, w.now - lastProgress, dump(w));
            }
            round(w, random, batch, poll, events ? seenVersion : null);
            w.advance(round);
            w.check();
        }
    }

    /** @param seenVersion per replica, the quota version its last read saw; null: no quota events */
    private static void round(ReplicaWorld w, Random random, int batch, long poll, int[] seenVersion) {
        List<Replica> order = new ArrayList<>(w.live());
        Collections.shuffle(order, random);
        for (Replica r : order) {
            while (!r.link.cut && !r.watch.isEmpty()) {
                Coordinator.Versioned v = r.watch.removeFirst();
                r.coordinator.seen(v.state(), v.revision());
            }
            w.turn(r);
            for (Replica.Msg m : List.copyOf(r.landed)) {
                w.answered(r, m);
            }
            if (!r.link.cut) {
                // Cut off, its creates are stored at their last moment (ReplicaWorld#advance), or never.
                for (Replica.Msg m : List.copyOf(r.sent)) {
                    w.land(r, m);
                }
            }
            for (Replica.Msg m : List.copyOf(r.held)) {
                w.start(r, m, false);
            }
            if (w.backlog > 0 && r.leases.isEmpty()) {
                w.lease(r, batch);
                while (!r.leases.isEmpty() && r.leases.get(0).lease().untaken() > 0 && w.backlog > 0) {
                    w.take(r);
                }
                if (!r.leases.isEmpty()) {
                    w.closeLease(r, r.leases.get(0));
                }
            }
            for (Replica.Read read : List.copyOf(r.reads)) {
                w.readAnswered(r, read, false);
            }
            int i = w.replicas.indexOf(r);
            boolean changed = seenVersion != null && w.quota.version() != seenVersion[i] && r.gate.wantsFreshRead();
            if (r.gate.readsHere() && (r.readWanted || changed || w.now - r.lastReadAt >= poll)) {
                if (seenVersion != null) {
                    seenVersion[i] = w.quota.version();
                }
                w.beginRead(r);
            }
            w.check();
        }
        while (w.quota.pendingDeletes() > 0) {
            w.quota.controller();
        }
        for (int i = w.objectsEndAt.size() - 1; i >= 0; i--) {
            if (w.objectsEndAt.get(i) <= w.now) {
                w.finishObject(i);
            }
        }
    }

    /** No crashed replica is a member, and nothing departed is still counted. */
    private static boolean clean(ReplicaWorld w) {
        SharedState s = w.stored();
        if (s == null || !s.departed().isEmpty()) {
            return s != null && s.departed().isEmpty();
        }
        return w.replicas.stream().noneMatch(r -> r.crashed && s.members().containsKey(r.id));
    }

    static String dump(ReplicaWorld w) {
        StringBuilder b = new StringBuilder(w.quota.describe()).append(", backlog ").append(w.backlog).append('\n');
        b.append("stored: ").append(w.stored()).append('\n');
        for (Replica r : w.replicas) {
            b.append(r.id).append(r.crashed ? " (crashed)" : "").append(r.link.cut ? " (cut)" : "").append(": gate ")
                    .append(r.gate.state()).append("\n    usage ").append(r.gate.usage()).append('\n');
        }
        return b.append("the last steps:\n").append(w.tail(80)).toString();
    }
}
