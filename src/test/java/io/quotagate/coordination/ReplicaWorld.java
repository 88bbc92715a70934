package io.quotagate.coordination;

import java.math.BigDecimal;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import io.quotagate.gate.CapacityGate;
import io.quotagate.ledger.MemoryBlockStore;

/**
 * N replicas on one bucket and one quota, and what happens between them, as steps a test picks: coordinator turns,
 * watch deliveries late, skipped or caught up, fetches, creates sent, stored, answered or failed, quota reads stale or
 * failed, objects deleted, the quota controller, a replica crashed or cut off from NATS, and time passing. Time passes
 * only in {@link #advance}, which keeps the environment's side of the contract on the way:
 * <ul>
 *   <li>a live replica's coordinator takes a turn at least every {@code turnGap} (≤ lease / 4);</li>
 *   <li>a create answers or times out within {@code requestTimeout} of being sent, or sooner when its gate's
 *       {@link CapacityGate#createWindowMillis() window} is shorter, and is stored then or never;</li>
 *   <li>a fetched message is started or handed back within {@code startDelay} (< requestTimeout), and a fetch holds
 *       its lease no longer; nothing starts while the gate revokes its permits.</li>
 * </ul>
 * {@link #check} is the promise: the quota's used plus every permit out for an object not yet stored (crashed
 * replicas' creates still on the wire included) stays within the threshold, and admission never refuses a create.
 */
final class ReplicaWorld {

    static final String KEY = "state.EVENTS";

    static final String QUOTA = "q";
    static final long START = 1_700_000_000_000L;

    final Random random;
    final BigDecimal ratio;
    final long lease;
    final long requestTimeout;
    final long turnGap;
    final long startDelay;
    final ModelQuota quota;
    final MemoryBlockStore store = new MemoryBlockStore();
    final List<Replica> replicas = new ArrayList<>();
    final List<String> trace = new ArrayList<>();
    /** When each stored object is deleted (by its workload finishing); one entry per object. */
    final List<Long> objectsEndAt = new ArrayList<>();
    final long lifetime;
    long now = START;
    int backlog;
    long createdByReplicas;
    /** Whether fetch loops lease while their coordinator writes ({@link #racing}). */
    boolean racing = true;
    private int raceDepth;

    /** @param skew per replica, how far its wall clock is ahead of the model's (behind when negative); null: none */
    ReplicaWorld(Random random, int n, double ratio, ModelQuota quota, long lease, long requestTimeout, long turnGap,
                 long startDelay, long lifetime, long[] skew) {
        this.random = random;
        this.ratio = BigDecimal.valueOf(ratio);
        this.quota = quota;
        this.lease = lease;
        this.requestTimeout = requestTimeout;
        this.turnGap = turnGap;
        this.startDelay = startDelay;
        this.lifetime = lifetime;
        for (int i = 0; i < quota.objects; i++) {
            objectsEndAt.add(now + random.nextLong(lifetime + 1));
        }
        for (int i = 0; i < n; i++) {
            long ahead = skew == null ? 0 : skew[i];
            replicas.add(new Replica("r" + i, store, this, new Allocation(this.ratio), ratio, lease, requestTimeout,
                    () -> now + ahead));
        }
    }

    /** A write reached the bucket: every live replica's watch will deliver it, in order, some time. */
    void written(byte[] value, long revision) {
        SharedState s = SharedState.fromBytes(value);
        for (Replica r : replicas) {
            if (!r.crashed) {
                r.watch.addLast(new Coordinator.Versioned(s, revision));
            }
        }
    }

    /**
     * The replica's fetch loop does not wait for its coordinator: while a write is on its way, it may lease and take
     * whatever the gate allows at that moment (the coordinator lowers caps before a write that gives units away).
     */
    void racing(Replica r) {
        if (!racing || raceDepth > 0) {
            return;
        }
        raceDepth++;
        try {
            switch (random.nextInt(4)) {
                case 0 -> {
                    log(r.id + " fetch loop races its coordinator's write:");
                    fetch(r);
                }
                case 1 -> {
                    // Replicas are processes of their own: another one's turn and fetch fall between two steps of
                    // this one's turn.
                    Replica other = any(live().stream().filter(o -> o != r && !o.link.cut).toList());
                    if (other != null) {
                        log(other.id + " runs between two steps of " + r.id + "'s turn:");
                        while (!other.watch.isEmpty() && random.nextBoolean()) {
                            Coordinator.Versioned v = other.watch.removeFirst();
                            other.coordinator.seen(v.state(), v.revision());
                        }
                        turn(other);
                        fetch(other);
                    }
                }
                default -> {
                }
            }
        } finally {
            raceDepth--;
        }
    }

    private void fetch(Replica r) {
        lease(r, 1 + random.nextInt(5));
        for (int i = random.nextInt(4); i > 0; i--) {
            take(r);
        }
    }

    void log(String line) {
        trace.add("t+" + (now - START) + " " + line);
        int keep = Math.max(200, Integer.getInteger("replicas.trace", 60));
        if (trace.size() > 2 * keep) {
            trace.subList(0, keep).clear();
        }
    }

    List<Replica> live() {
        return replicas.stream().filter(r -> !r.crashed).toList();
    }

    <T> T any(List<T> from) {
        return from.isEmpty() ? null : from.get(random.nextInt(from.size()));
    }

    // ---- steps -----------------------------------------------------------------------------------------------------

    void turn(Replica r) {
        boolean ok = r.coordinator.runOnce();
        r.lastTurnAt = now;
        Coordinator.Versioned v = r.coordinator.latest();
        log(r.id + " turn " + (ok ? "ok" : "FAILED") + (r.link.cut ? " (cut)" : "") + " rev "
                + (v == null ? "-" : v.revision()) + " caps " + (v == null ? "-" : Allocation.caps(v.state(), r.id))
                + " headroom " + r.gate.state().headroom());
    }

    /** The watch delivers the oldest pending state, skips it, or catches up to the newest. */
    void watch(Replica r) {
        if (r.watch.isEmpty() || r.link.cut) {
            return;
        }
        switch (random.nextInt(3)) {
            case 0 -> {
                Coordinator.Versioned v = r.watch.removeFirst();
                r.coordinator.seen(v.state(), v.revision());
                log(r.id + " watch delivers rev " + v.revision());
            }
            case 1 -> log(r.id + " watch skips rev " + r.watch.removeFirst().revision());
            default -> {
                Coordinator.Versioned v = r.watch.getLast();
                r.watch.clear();
                r.coordinator.seen(v.state(), v.revision());
                log(r.id + " watch catches up to rev " + v.revision());
            }
        }
    }

    void lease(Replica r, int max) {
        if (r.leases.size() >= 2 || r.gate.permitsRevoked()) {
            return;
        }
        CapacityGate.Lease l = r.gate.tryLease(max);
        log(r.id + " lease " + max + " -> " + l.permits());
        if (l.permits() > 0) {
            r.leases.add(new Replica.OpenLease(l, now));
        }
    }

    void take(Replica r) {
        Replica.OpenLease l = any(r.leases.stream().filter(o -> o.lease().untaken() > 0).toList());
        if (l == null || backlog == 0 || r.gate.permitsRevoked()) {
            return;
        }
        r.held.add(new Replica.Msg(l.lease().take(), now));
        backlog--;
        log(r.id + " takes a message");
    }

    void closeLease(Replica r, Replica.OpenLease l) {
        r.leases.remove(l);
        l.lease().close();
        log(r.id + " closes a lease");
    }

    /** A worker picks a fetched message up: it starts the create unless the gate revoked the permits. */
    void start(Replica r, Replica.Msg m, boolean handBack) {
        r.held.remove(m);
        long window = r.gate.createWindowMillis();
        if (handBack || r.gate.permitsRevoked() || window <= 0) {
            m.permit.returned();
            backlog++;
            log(r.id + " hands a message back" + (handBack ? "" : window <= 0 ? " (lease ends)" : " (revoked)"));
        } else {
            m.sentAt = now;
            m.endsBy = now + Math.min(requestTimeout, window);
            r.sent.add(m);
            log(r.id + " sends a create");
        }
    }

    /** The apiserver stores a create on the wire (or refuses it for quota: the failure this model looks for). */
    void land(Replica r, Replica.Msg m) {
        r.sent.remove(m);
        if (!quota.admit()) {
            log(r.id + " create REFUSED: exceeded quota (" + quota.describe() + ")");
            if (!r.crashed) {
                m.permit.quotaRejected();
                backlog++;
            }
            return;
        }
        objectsEndAt.add(now + random.nextLong(lifetime + 1));
        createdByReplicas++;
        if (!r.crashed) {
            r.landed.add(m);
        }
        log(r.id + " create stored (" + quota.describe() + ")");
    }

    void answered(Replica r, Replica.Msg m) {
        r.landed.remove(m);
        m.permit.created();
        log(r.id + " create answered");
    }

    /** A create on the wire fails without storing anything (or times out, then it counts as created). */
    void failCreate(Replica r, Replica.Msg m, boolean timedOut) {
        r.sent.remove(m);
        backlog++;
        if (!r.crashed) {
            if (timedOut) {
                m.permit.created();
            } else {
                m.permit.returned();
            }
        }
        log(r.id + " create " + (timedOut ? "timed out" : "failed") + ", not stored");
    }

    void beginRead(Replica r) {
        if (!r.gate.readsHere()) {
            return;
        }
        r.reads.add(new Replica.Read(r.gate.beginRead(), quota.version()));
        r.readWanted = false;
        r.lastReadAt = now;
        log(r.id + " reads the quota");
    }

    void readAnswered(Replica r, Replica.Read read, boolean fails) {
        r.reads.remove(read);
        if (fails) {
            r.gate.readFailed(read.ticket(), QUOTA, "timed out", false);
            log(r.id + " read failed");
        } else {
            var limits = quota.readAsOf(read.sentAt(), random);
            r.gate.apply(read.ticket(), QUOTA, limits);
            log(r.id + " read answered " + limits);
        }
    }

    /** Some object's work is done and it is deleted. */
    void finishObject(int index) {
        objectsEndAt.remove(index);
        quota.finish();
        log("an object is deleted");
    }

    void crash(Replica r) {
        r.crashed = true;
        r.leases.clear();
        backlog += r.held.size() + r.landed.size(); // redelivered after ack-wait (a landed one meets 409 then)
        r.held.clear();
        r.landed.clear();
        r.reads.clear();
        r.watch.clear();
        log(r.id + " CRASHES with " + r.sent.size() + " creates on the wire");
    }

    void cut(Replica r, boolean cut) {
        r.link.cut = cut;
        log(r.id + (cut ? " is CUT OFF from NATS" : " reaches NATS again"));
    }

    /**
     * Time passes by {@code d}; on the way, whatever the environment must do by then is done at its moment: turns,
     * creates that answer or time out, fetched messages started or handed back, leases closed.
     */
    void advance(long d) {
        long target = now + d;
        while (true) {
            long at = Long.MAX_VALUE;
            Runnable due = null;
            for (Replica r : replicas) {
                for (Replica.Msg m : r.sent) {
                    if (m.endsBy < at) {
                        at = m.endsBy;
                        due = () -> {
                            switch (r.crashed ? random.nextInt(2) * 2 : random.nextInt(3)) {
                                case 0 -> {
                                    land(r, m);
                                    if (r.landed.contains(m)) {
                                        answered(r, m);
                                    }
                                }
                                case 1 -> failCreate(r, m, false);
                                default -> failCreate(r, m, true);
                            }
                        };
                    }
                }
                if (r.crashed) {
                    continue;
                }
                if (r.lastTurnAt + turnGap < at) {
                    at = r.lastTurnAt + turnGap;
                    due = () -> turn(r);
                }
                for (Replica.Msg m : r.held) {
                    if (m.takenAt + startDelay < at) {
                        at = m.takenAt + startDelay;
                        due = () -> start(r, m, random.nextInt(4) == 0);
                    }
                }
                for (Replica.OpenLease l : r.leases) {
                    if (l.openedAt() + startDelay < at) {
                        at = l.openedAt() + startDelay;
                        due = () -> closeLease(r, l);
                    }
                }
            }
            if (at > target) {
                break;
            }
            now = Math.max(now, at);
            due.run();
            check();
        }
        now = target;
    }

    /** The promise, after every step. */
    void check() {
        long outstanding = 0;
        for (Replica r : replicas) {
            outstanding += r.outstanding();
        }
        int over = quota.overshoot(outstanding);
        if (over >= 0 || quota.rejections > 0) {
            throw new AssertionError(String.format("%s + %d permits out for objects not stored yet passes the "
                    + "threshold, or admission refused a create (%d); the last steps:%n%s", quota.describe(),
                    outstanding, quota.rejections, tail(Integer.getInteger("replicas.trace", 60))));
        }
    }

    String tail(int lines) {
        return String.join("\n", trace.subList(Math.max(0, trace.size() - lines), trace.size()));
    }

    /** The shared state now, as stored. */
    SharedState stored() {
        try {
            var e = store.get(KEY);
            return e == null ? null : SharedState.fromBytes(e.value());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }
}
