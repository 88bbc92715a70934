package io.quotagate.gate;

import java.time.Clock;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** What the gate tells the quota monitor about when a fresh read matters, and the per-fetch hook it offers. */
class CapacityGateReadDemandTest {

    private final CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());

    private void read(long hard, long used) {
        gate.update(gate.beginRead(), new QuotaReading(hard, used));
    }

    @Test
    void wantsAReadWhileTheQuotaIsUnknown() {
        assertThat(gate.wantsFreshRead()).isTrue();
    }

    @Test
    void doesNotWantAReadWhileAWholeBatchFits() {
        read(1_000, 0);
        gate.fetched(gate.tryAcquire(64), 64);
        assertThat(gate.wantsFreshRead()).isFalse();
    }

    @Test
    void wantsAReadOnceTheHeadroomNoLongerCoversTwoBatches() {
        read(200, 0);
        int n = gate.tryAcquire(64);
        gate.fetched(n, n);
        assertThat(gate.wantsFreshRead()).as("136 left, the loop asks for 64").isFalse();
        gate.fetched(gate.tryAcquire(64), 64);
        assertThat(gate.wantsFreshRead()).as("72 left, the loop asks for 64").isTrue();
    }

    @Test
    void wantsAReadWhileClosed() {
        read(10, 10);
        assertThat(gate.state().blocked()).isTrue();
        assertThat(gate.wantsFreshRead()).isTrue();
        gate.pause();
        read(1_000, 0);
        assertThat(gate.wantsFreshRead()).as("paused").isTrue();
    }

    @Test
    void aDisabledGateNeverWantsAReadButStillCallsTheHook() {
        CapacityGate off = new CapacityGate(false, 1.0, FailMode.CLOSED, Clock.systemUTC());
        AtomicInteger calls = new AtomicInteger();
        off.onAcquire(calls::incrementAndGet);
        assertThat(off.wantsFreshRead()).isFalse();
        assertThat(off.tryAcquire(64)).isEqualTo(64);
        assertThat(calls).hasValue(1);
    }

    @Test
    void callsTheAcquireHookOncePerAcquireEvenWhenNothingFits() {
        AtomicInteger calls = new AtomicInteger();
        gate.onAcquire(calls::incrementAndGet);
        assertThat(gate.tryAcquire(64)).isZero();
        read(1_000, 0);
        gate.fetched(gate.tryAcquire(64), 0);
        assertThat(gate.tryAcquire(0)).isZero();
        assertThat(calls).as("acquire(0) asks for nothing and is no fetch").hasValue(2);
    }

    @Test
    void countsOnlyFetchesThatReturnedMessages() {
        read(1_000, 0);
        gate.fetched(gate.tryAcquire(64), 0);
        gate.fetched(gate.tryAcquire(64), 3);
        gate.fetched(gate.tryAcquire(64), 64);
        assertThat(gate.batchesFetched()).isEqualTo(2);
    }
}
