package io.quotagate.gate;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What the gate tells the quota monitor about when a fresh read matters, and the per-fetch hook it offers. */
class CapacityGateReadDemandTest {

    private final CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());

    private void read(long hard, long used) {
        gate.apply(gate.beginRead(), new QuotaReading(hard, used));
    }

    /** One fetch of {@code max} that receives {@code received} messages, each left holding its permit. */
    private static int fetch(CapacityGate g, int max, int received) {
        try (CapacityGate.Lease lease = g.tryLease(max)) {
            for (int i = 0; i < Math.min(received, lease.permits()); i++) {
                lease.take();
            }
            return lease.permits();
        }
    }

    @Test
    void wantsAReadWhileTheQuotaIsUnknown() {
        assertThat(gate.wantsFreshRead()).isTrue();
    }

    @Test
    void doesNotWantAReadWhileAWholeBatchFits() {
        read(1_000, 0);
        fetch(gate, 64, 64);
        assertThat(gate.wantsFreshRead()).isFalse();
    }

    @Test
    void wantsAReadOnceTheHeadroomNoLongerCoversTwoBatches() {
        read(200, 0);
        fetch(gate, 64, 64);
        assertThat(gate.wantsFreshRead()).as("136 left, the loop asks for 64").isFalse();
        fetch(gate, 64, 64);
        assertThat(gate.wantsFreshRead()).as("72 left, the loop asks for 64").isTrue();
    }

    @Test
    void permitsOfAnOpenLeaseDoNotMakeItWantARead() {
        read(200, 0);
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(64);
            fetch(gate, 64, 64);
            assertThat(gate.wantsFreshRead()).as("136 left for messages; the waiting fetch's 64 are no message yet")
                    .isFalse();
        }
    }

    @Test
    void wantsAReadWhileClosed() {
        read(10, 10);
        assertThat(gate.state().blocked()).isTrue();
        assertThat(gate.wantsFreshRead()).isTrue();
        gate.pause();
        read(1_000, 0);
        assertThat(gate.wantsFreshRead()).as("paused").isTrue();
        gate.resume();
        gate.forbidden("denied");
        assertThat(gate.wantsFreshRead()).as("forbidden").isTrue();
    }

    @Test
    void aDisabledGateNeverWantsAReadButStillCallsTheHook() {
        CapacityGate off = new CapacityGate(false, 1.0, FailMode.CLOSED, Clock.systemUTC());
        AtomicInteger calls = new AtomicInteger();
        off.onAcquire(calls::incrementAndGet);
        assertThat(off.wantsFreshRead()).isFalse();
        try (CapacityGate.Lease lease = off.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(64);
        }
        assertThat(calls).hasValue(1);
        off.forbidden("denied");
        assertThat(off.wantsFreshRead()).as("no quota to read, even while forbidden").isFalse();
    }

    @Test
    void callsTheAcquireHookOncePerLeaseEvenWhenNothingFits() {
        AtomicInteger calls = new AtomicInteger();
        gate.onAcquire(calls::incrementAndGet);
        assertThat(fetch(gate, 64, 0)).isZero();
        read(1_000, 0);
        fetch(gate, 64, 0);
        try (CapacityGate.Lease none = gate.tryLease(0)) {
            assertThat(none.permits()).isZero();
        }
        assertThat(calls).as("a lease of 0 asks for nothing and is no fetch").hasValue(2);
    }

    @Test
    void countsOnlyFetchesThatReturnedMessages() {
        read(1_000, 0);
        fetch(gate, 64, 0);
        fetch(gate, 64, 3);
        fetch(gate, 64, 64);
        assertThat(gate.batchesFetched()).isEqualTo(2);
    }

    @Test
    void aFetchIsCountedWhenItsLeaseIsClosedNotWhenItsPermitsAreTaken() {
        read(1_000, 0);
        CapacityGate.Lease lease = gate.tryLease(64);
        lease.take();
        assertThat(gate.batchesFetched()).isZero();
        lease.close();
        assertThat(gate.batchesFetched()).isEqualTo(1);
    }

    /** {@link CapacityGate.Lease#close()} promises to be idempotent; a second close is no second fetch. */
    @Test
    void closingALeaseTwiceCountsOneFetch() {
        read(1_000, 0);
        CapacityGate.Lease lease = gate.tryLease(64);
        lease.take();
        lease.close();
        lease.close();
        assertThat(gate.batchesFetched()).isEqualTo(1);
    }
}
