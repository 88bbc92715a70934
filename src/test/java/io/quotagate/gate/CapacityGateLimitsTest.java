package io.quotagate.gate;

import java.time.Clock;
import java.util.List;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;

/** One gate, many limits: each quota resource limits on its own, the tightest binds, and every quota must be known. */
class CapacityGateLimitsTest {

    private static final String COUNT = "count/pods";
    private static final String CPU = "requests.cpu";

    private final CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());

    private void read(String quota, LimitReading... limits) {
        gate.apply(gate.beginRead(), quota, List.of(limits));
    }

    private int lease(int max) {
        try (CapacityGate.Lease lease = gate.tryLease(max)) {
            return lease.permits();
        }
    }

    @Test
    void theTighterOfTwoQuotasOnTheSameResourceBinds() {
        gate.expect(List.of("team", "namespace"));
        read("team", new LimitReading(COUNT, 10, 4, 1));
        read("namespace", new LimitReading(COUNT, 100, 97, 1));

        GateState s = gate.state();
        assertThat(s.headroom()).isEqualTo(3);
        assertThat(s.limitedBySource()).isEqualTo("namespace");
        assertThat(List.of(s.hard(), s.used(), s.threshold())).containsExactly(100L, 97L, 100L);
        assertThat(s.limits()).extracting(LimitState::source, LimitState::headroom)
                .containsExactly(org.assertj.core.groups.Tuple.tuple("team", 6L),
                        org.assertj.core.groups.Tuple.tuple("namespace", 3L));
        assertThat(lease(64)).isEqualTo(3);
    }

    @Test
    void eachLimitShowsItsOwnHeadroomWhileAnotherBinds() {
        gate.expect(List.of("team", "namespace"));
        read("team", new LimitReading(COUNT, 8, 4, 1));
        read("namespace", new LimitReading(COUNT, 5, 5, 1));

        GateState s = gate.state();
        assertThat(s.headroom()).isZero();
        assertThat(s.limitedBySource()).isEqualTo("namespace");
        assertThat(s.limits()).extracting(LimitState::source, LimitState::headroom)
                .as("the full quota binds; the other is still 4 from its threshold")
                .containsExactly(org.assertj.core.groups.Tuple.tuple("team", 4L),
                        org.assertj.core.groups.Tuple.tuple("namespace", 0L));

        gate.pause();
        assertThat(gate.state().limits()).extracting(LimitState::headroom).as("paused: nothing gets through")
                .containsOnly(0L);
    }

    @Test
    void failOpenLetsAnUnreadableQuotaLimitNothingButTheQuotasThatWereReadStillLimit() {
        CapacityGate open = new CapacityGate(true, 1.0, FailMode.OPEN, Clock.systemUTC());
        open.expect(List.of("team", "namespace"));
        open.apply(open.beginRead(), "team", List.of(new LimitReading(COUNT, 10, 7, 1)));
        open.readFailed(open.beginRead(), "namespace", "connection refused", false);

        try (CapacityGate.Lease lease = open.tryLease(64)) {
            assertThat(lease.permits()).as("team still has 3; the unreadable quota adds no limit").isEqualTo(3);
        }
        open.apply(open.beginRead(), "team", List.of(new LimitReading(COUNT, 10, 10, 1)));
        assertThat(open.state().blockedFor(BlockedReason.QUOTA_FULL)).isTrue();
        try (CapacityGate.Lease lease = open.tryLease(64)) {
            assertThat(lease.permits()).as("team is full, whatever the other quota").isZero();
        }
    }

    @Test
    void aMessageChargesItsCostOnEveryLimitOfItsQuota() {
        // 500m pods against 4 cores, 3.2 of them used: one more fits by cpu, though the count has room for 6.
        read("compute", new LimitReading(COUNT, 10, 4, 1), new LimitReading(CPU, 4000, 3200, 500));

        assertThat(gate.state().headroom()).isEqualTo(1);
        assertThat(gate.state().limitedByResource()).isEqualTo(CPU);
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(1);
            lease.take();
            LimitState cpu = gate.state().limits().get(1);
            assertThat(cpu.inFlight()).as("millicores the fetched message will charge").isEqualTo(500);
            assertThat(cpu.headroom()).isZero();
        }
        assertThat(gate.state().blockedFor(BlockedReason.QUOTA_FULL)).isTrue();
    }

    @Test
    void aQuotaWithNoLimitOnTheMessageDoesNotBlock() {
        gate.expect(List.of("workflows", "configmaps"));
        read("workflows", new LimitReading("count/workflows.argoproj.io", 10, 0, 1));
        read("configmaps"); // lists only configmaps: nothing a Workflow charges

        assertThat(gate.state().blocked()).isFalse();
        assertThat(gate.state().limits()).hasSize(1);
        assertThat(lease(64)).isEqualTo(10);
    }

    @Test
    void theQuotaIsUnknownUntilEveryNamedQuotaIsReadAndWhileAnyReadFails() {
        gate.expect(List.of("a", "b"));
        read("a", new LimitReading(COUNT, 10, 0, 1));
        assertThat(gate.state().blockedFor(BlockedReason.QUOTA_UNKNOWN)).as("b not read yet").isTrue();
        assertThat(lease(64)).isZero();

        read("b", new LimitReading(COUNT, 10, 0, 1));
        assertThat(gate.state().blocked()).isFalse();

        gate.readFailed(gate.beginRead(), "b", "ResourceQuota argo/b does not exist", true);
        GateState s = gate.state();
        assertThat(s.blockedFor(BlockedReason.QUOTA_UNKNOWN)).isTrue();
        assertThat(s.lastError()).contains("argo/b");
        assertThat(s.configurationError()).isTrue();
    }

    @Test
    void exceededQuotaClosesUntilEveryQuotaIsReadAgain() {
        read("a", new LimitReading(COUNT, 10, 0, 1));
        read("b", new LimitReading(COUNT, 10, 0, 1));
        try (CapacityGate.Lease lease = gate.tryLease(1)) {
            lease.take().quotaRejected();
        }
        read("a", new LimitReading(COUNT, 10, 0, 1));
        assertThat(gate.permitsRevoked()).as("b may be the quota another writer filled").isTrue();
        read("b", new LimitReading(COUNT, 10, 0, 1));
        assertThat(gate.permitsRevoked()).isFalse();
        assertThat(gate.state().blocked()).isFalse();
    }

    @Test
    void oneTicketAppliesToEveryQuotaOfAListAndCountsOurCreatesPerQuota() {
        read("a", new LimitReading(COUNT, 10, 0, 1));
        read("b", new LimitReading(COUNT, 10, 0, 1));
        try (CapacityGate.Lease lease = gate.tryLease(2)) {
            lease.take().created();
            lease.take().created();
        }
        // A read of a sent before the creates returned: they stay counted against a, and b has not been read since.
        CapacityGate.ReadTicket list = gate.beginRead();
        read("a", new LimitReading(COUNT, 10, 2, 1));
        assertThat(gate.state().headroom()).as("b still counts both creates").isEqualTo(8);
        gate.apply(list, "b", List.of(new LimitReading(COUNT, 10, 2, 1)));
        gate.apply(list, "a", List.of(new LimitReading(COUNT, 10, 0, 1)));
        assertThat(gate.state().limits()).extracting(LimitState::used).as("the overtaken read of a is ignored")
                .containsExactly(2L, 2L);
        assertThat(gate.state().headroom()).isEqualTo(8);
        assertThat(gate.state().createdUnobserved()).isZero();
    }

    @Test
    void aForgottenQuotaLimitsNothing() {
        read("a", new LimitReading(COUNT, 10, 0, 1));
        read("b", new LimitReading(COUNT, 2, 2, 1));
        assertThat(gate.state().blocked()).isTrue();
        gate.forget(gate.beginRead(), "b");
        assertThat(gate.sources()).containsExactly("a");
        assertThat(gate.state().headroom()).isEqualTo(10);
    }

    @Test
    void theCapacityRatioAppliesToEveryLimit() {
        CapacityGate g = new CapacityGate(true, 0.5, FailMode.CLOSED, Clock.systemUTC());
        g.apply(g.beginRead(), "compute", List.of(new LimitReading(COUNT, 100, 0, 1), new LimitReading(CPU, 3000, 0, 500)));
        // cpu: floor(3000 × 0.5) = 1500 → 3 pods; count: 50.
        assertThat(g.state().headroom()).isEqualTo(3);
        assertThat(g.state().limits()).extracting(LimitState::threshold).containsExactly(50L, 1500L);
    }
}
