package io.quotagate.coordination;

import java.math.BigDecimal;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.gate.LimitReading;
import io.quotagate.ledger.BlockStore;
import io.quotagate.ledger.MemoryBlockStore;
import io.quotagate.support.MillisClock;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * A quota read that starts while the coordinator has just failed a turn (NATS restarting, JetStream not ready yet):
 * its view of the state is gone until it reads the state again. Found in CI: after two NATS restarts with the quota
 * full, the quota was raised and the gate stayed closed until the next poll, 30.1 s later. The reading taken then was
 * published as started at revision 0, older than the reading already in the state, and dropped.
 */
class ReadingAcrossAFailedTurnTest {

    static final long LEASE = 10_000;
    static final String QUOTA = "q";
    static final String RESOURCE = "count/workflows.argoproj.io";

    final AtomicLong now = new AtomicLong(1_700_000_000_000L);
    final AtomicBoolean failNext = new AtomicBoolean();
    final MemoryBlockStore memory = new MemoryBlockStore();
    final BlockStore store = new BlockStore() {
        @Override
        public String name() {
            return memory.name();
        }

        @Override
        public void ensureExists() throws Exception {
            memory.ensureExists();
        }

        @Override
        public Entry get(String key) throws Exception {
            return memory.get(key);
        }

        @Override
        public long create(String key, byte[] value) throws Exception {
            return memory.create(key, value);
        }

        @Override
        public long update(String key, byte[] value, long revision) throws Exception {
            if (failNext.getAndSet(false)) {
                throw new java.io.IOException("Error Publishing: 503 No Responders Available For Request");
            }
            return memory.update(key, value, revision);
        }
    };
    final CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, new MillisClock(now::get));
    final Membership membership = new Membership("r0", new Allocation(BigDecimal.ONE), LEASE, 2_000);
    final Coordinator coordinator = new Coordinator(store, "state.EVENTS", gate, membership, now::get);
    final ReaderShare share = new ReaderShare(membership, coordinator, gate::usage, () -> { }, now::get);

    @Test
    void aReadingTakenWhileTheCoordinatorHasNoViewStillReachesTheGate() {
        gate.shareReadsThrough(share);
        gate.expect(List.of(QUOTA));
        turns();
        read(2, 2);
        turns();
        assertThat(gate.state().hard()).as("the first reading applied").isEqualTo(2);
        assertThat(gate.state().headroom()).isZero();

        now.addAndGet(LEASE / 4); // a heartbeat is due: the turn writes, and the write fails
        failNext.set(true);
        assertThat(coordinator.runOnce()).as("the failed turn").isFalse();
        assertThat(coordinator.latest()).as("its view, dropped to be read again").isNull();

        read(5, 2); // the quota was raised meanwhile
        turns();

        assertThat(gate.state().hard()).as("the reading taken across the failed turn applied").isEqualTo(5);
        assertThat(gate.state().headroom()).isEqualTo(3);
    }

    private void read(long hard, long used) {
        CapacityGate.ReadTicket ticket = gate.beginRead();
        gate.apply(ticket, QUOTA, List.of(new LimitReading(RESOURCE, hard, used, 1)));
    }

    private void turns() {
        for (int i = 0; i < 3; i++) {
            coordinator.runOnce();
            now.addAndGet(10);
        }
    }
}
