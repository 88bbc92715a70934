package io.quotagate.coordination;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.function.LongSupplier;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.ledger.BlockStore;
import io.quotagate.support.MillisClock;

/**
 * One simulated QuotaGate replica: the real gate, membership, coordinator and reader share, wired as the application
 * would wire them, plus what its fetch loop, workers and quota monitor hold at a moment of the model
 * ({@link ReplicaWorld}). It reaches the shared bucket through a {@link Link} that can be cut (a partition).
 */
final class Replica {

    /** A fetched message: its permit and when it was fetched, started (create sent) or answered. */
    static final class Msg {
        final CapacityGate.Permit permit;
        final long takenAt;
        long sentAt;
        /** By when its create is answered or given up on: its request timeout, or sooner when the lease says so. */
        long endsBy;

        Msg(CapacityGate.Permit permit, long takenAt) {
            this.permit = permit;
            this.takenAt = takenAt;
        }
    }

    record OpenLease(CapacityGate.Lease lease, long openedAt) {
    }

    /** A quota GET on the wire: its ticket and the quota version when it was sent. */
    record Read(CapacityGate.ReadTicket ticket, int sentAt) {
    }

    final String id;
    final CapacityGate gate;
    final Membership membership;
    final Coordinator coordinator;
    final ReaderShare share;
    final Link link;
    /** States the bucket's watch has not delivered yet, oldest first. */
    final ArrayDeque<Coordinator.Versioned> watch = new ArrayDeque<>();
    final List<OpenLease> leases = new ArrayList<>();
    /** Fetched, create not sent. */
    final List<Msg> held = new ArrayList<>();
    /** Create sent, no answer: it may be stored at any moment until it times out. */
    final List<Msg> sent = new ArrayList<>();
    /** Stored by the apiserver, its answer not yet back (the permit still held). */
    final List<Msg> landed = new ArrayList<>();
    final List<Read> reads = new ArrayList<>();
    boolean crashed;
    boolean readWanted;
    long lastTurnAt;
    long lastReadAt;

    Replica(String id, BlockStore store, ReplicaWorld world, Allocation allocation, double ratio, long lease,
            long requestTimeout, LongSupplier clock) {
        this.id = id;
        this.link = new Link(store, world, this);
        this.gate = new CapacityGate(true, ratio, FailMode.CLOSED, new MillisClock(clock));
        this.membership = new Membership(id, allocation, lease, requestTimeout);
        this.coordinator = new Coordinator(link, ReplicaWorld.KEY, gate, membership, clock);
        // Wake-ups only hurry the coordinator's next turn; the model schedules turns itself.
        this.share = new ReaderShare(membership, coordinator, gate::usage, () -> { }, clock);
        gate.onRefreshNeeded(() -> readWanted = true);
        gate.shareReadsThrough(share);
        gate.expect(List.of(ReplicaWorld.QUOTA));
        this.lastTurnAt = clock.getAsLong();
    }

    long untaken() {
        long n = 0;
        for (OpenLease l : leases) {
            n += l.lease().untaken();
        }
        return n;
    }

    /** Permits out for messages whose object is not stored yet: what may still become a create. */
    long outstanding() {
        return crashed ? sent.size() : untaken() + held.size() + sent.size();
    }

    boolean idle() {
        return leases.isEmpty() && held.isEmpty() && sent.isEmpty() && landed.isEmpty();
    }

    /** The bucket as this replica reaches it: cut, every call fails as with NATS away; each write feeds the watch. */
    static final class Link implements BlockStore {
        private final BlockStore store;
        private final ReplicaWorld world;
        private final Replica replica;
        boolean cut;

        Link(BlockStore store, ReplicaWorld world, Replica replica) {
            this.store = store;
            this.world = world;
            this.replica = replica;
        }

        @Override
        public String name() {
            return store.name();
        }

        @Override
        public void ensureExists() throws Exception {
            reachable();
            store.ensureExists();
        }

        @Override
        public Entry get(String key) throws Exception {
            reachable();
            return store.get(key);
        }

        @Override
        public long create(String key, byte[] value) throws Exception {
            reachable();
            world.racing(replica);
            long rev = store.create(key, value);
            world.written(value, rev);
            return rev;
        }

        @Override
        public long update(String key, byte[] value, long revision) throws Exception {
            reachable();
            world.racing(replica);
            long rev = store.update(key, value, revision);
            world.written(value, rev);
            return rev;
        }

        private void reachable() throws java.io.IOException {
            if (cut) {
                throw new java.io.IOException("Timeout or no response waiting for NATS JetStream server");
            }
        }
    }
}
