package io.quotagate.gate;

import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

class CapacityGateTest {

    private final CapacityGate gate = new CapacityGate(true, 0.95, FailMode.CLOSED, Clock.systemUTC());

    /** Acquire and fetch as many messages as permits: what the consumer does when the stream has enough. */
    private static int take(CapacityGate g, int max) {
        int n = g.tryAcquire(max);
        g.fetched(n, n);
        return n;
    }

    private void read(long hard, long used) {
        gate.update(gate.beginRead(), new QuotaReading(hard, used));
    }

    @Test
    void thresholdIsFloorOfHardTimesRatioButAtLeastOne() {
        assertThat(CapacityGate.thresholdFor(75, new BigDecimal("0.95"))).isEqualTo(71);
        assertThat(CapacityGate.thresholdFor(100, BigDecimal.valueOf(0.29))).isEqualTo(29);
        assertThat(CapacityGate.thresholdFor(1, new BigDecimal("0.5"))).isEqualTo(1);
        assertThat(CapacityGate.thresholdFor(10, BigDecimal.ONE)).isEqualTo(10);
        assertThat(CapacityGate.thresholdFor(0, BigDecimal.ONE)).isZero();
    }

    @Test
    void rejectsRatiosOutsideZeroToOne() {
        assertThatThrownBy(() -> new CapacityGate(true, 0, FailMode.CLOSED, Clock.systemUTC()))
                .hasMessageContaining("(0, 1]");
        assertThatThrownBy(() -> new CapacityGate(true, 1.5, FailMode.CLOSED, Clock.systemUTC()))
                .hasMessageContaining("(0, 1]");
    }

    @Test
    void failClosedGateLetsNothingThroughBeforeTheFirstRead() {
        assertThat(take(gate, 64)).isZero();
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.QUOTA_UNKNOWN);
    }

    @Test
    void failOpenGateFetchesAFullBatchWhileTheQuotaIsUnknown() {
        CapacityGate open = new CapacityGate(true, 0.95, FailMode.OPEN, Clock.systemUTC());
        assertThat(take(open, 64)).isEqualTo(64);
        open.readFailed(open.beginRead(), "apiserver down", false);
        assertThat(open.state().blocked()).isFalse();
        assertThat(take(open, 64)).isEqualTo(64);
    }

    @Test
    void permitsTakenWhileOpenAreRevokedWhenTheQuotaBecomesUnknownOrAfterExceededQuota() {
        read(100, 0);
        int permits = gate.tryAcquire(64); // a fetch now waits for its first message with these
        assertThat(permits).isEqualTo(64);
        assertThat(gate.permitsRevoked()).isFalse();
        gate.readFailed(gate.beginRead(), "apiserver down", false);
        assertThat(gate.permitsRevoked()).as("fail-closed: the waiting fetch must take nothing more").isTrue();
        read(100, 0);
        assertThat(gate.permitsRevoked()).isFalse();
        gate.fetched(permits, 1);
        gate.quotaRejected();
        assertThat(gate.permitsRevoked()).isTrue();
        read(100, 1);
        assertThat(gate.permitsRevoked()).isFalse();
        gate.pause();
        assertThat(gate.permitsRevoked()).isTrue();

        CapacityGate open = new CapacityGate(true, 0.95, FailMode.OPEN, Clock.systemUTC());
        open.readFailed(open.beginRead(), "apiserver down", false);
        assertThat(open.permitsRevoked()).as("fail-open keeps fetching").isFalse();
    }

    @Test
    void fetchSizeIsTheSmallerOfBatchSizeAndHeadroom() {
        read(75, 60);
        assertThat(take(gate, 64)).isEqualTo(11);
        assertThat(take(gate, 64)).isZero();
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.QUOTA_FULL);
        gate.settled(0, 5);
        assertThat(take(gate, 2)).isEqualTo(2);
    }

    @Test
    void createdObjectsStayCountedUntilAReadStartedAfterThem() {
        read(10, 0);
        assertThat(take(gate, 10)).isEqualTo(9); // threshold floor(10 × 0.95) = 9
        CapacityGate.ReadTicket before = gate.beginRead();
        for (int i = 0; i < 9; i++) {
            gate.settled(1, 0);
        }
        // This read was sent before the creates returned: it may show used 0, yet nothing may be let through.
        gate.update(before, new QuotaReading(10, 0));
        assertThat(take(gate, 10)).isZero();
        assertThat(gate.state().createdUnobserved()).isEqualTo(9);
        // A read started after them includes them; then deletes (seen after the controller's lag) free room.
        read(10, 9);
        assertThat(gate.state().createdUnobserved()).isZero();
        assertThat(take(gate, 10)).isZero();
        read(10, 4);
        assertThat(take(gate, 10)).isEqualTo(5);
    }

    @Test
    void aWorkersBurstReportMovesPermitsAsOneCallPerMessageWould() {
        read(10, 0);
        assertThat(take(gate, 9)).isEqualTo(9);
        CapacityGate.ReadTicket before = gate.beginRead();
        // Six objects created, two messages nak'd: reported together, as a worker does at the end of its share.
        gate.settled(6, 2);
        gate.update(before, new QuotaReading(10, 0));
        GateState state = gate.state();
        assertThat(state.createdUnobserved()).as("created, not yet seen by a read").isEqualTo(6);
        assertThat(take(gate, 10)).as("the two returned permits; the one still held stays counted").isEqualTo(2);
        gate.settled(1, 0);
        read(10, 7);
        assertThat(gate.state().createdUnobserved()).isZero();
        assertThat(take(gate, 10)).as("threshold 9, used 7, 2 out").isZero();
    }

    @Test
    void aSettledBatchAsksForAReadWhenOnlyItsOwnUnobservedCreatesBlock() {
        AtomicInteger refreshes = new AtomicInteger();
        gate.onRefreshNeeded(refreshes::incrementAndGet);
        read(10, 0);
        int n = take(gate, 64);
        CapacityGate.ReadTicket raced = gate.beginRead(); // the last create's watch event, ahead of its response
        for (int i = 0; i < n; i++) {
            gate.settled(1, 0);
        }
        gate.update(raced, new QuotaReading(10, 9));
        gate.batchSettled();
        assertThat(refreshes).as("a fresh read, or the gate waits for the next poll").hasValue(1);
        read(10, 9);
        gate.batchSettled();
        assertThat(refreshes).as("nothing unobserved any more").hasValue(1);
    }

    @Test
    void aReadOvertakenByANewerOneIsIgnored() {
        CapacityGate.ReadTicket older = gate.beginRead();
        CapacityGate.ReadTicket newer = gate.beginRead();
        gate.update(newer, new QuotaReading(75, 71));
        gate.update(older, new QuotaReading(75, 0));
        assertThat(gate.state().used()).isEqualTo(71);
        assertThat(take(gate, 1)).isZero();
    }

    @Test
    void exceededQuotaClosesTheGateAtOnceAndAsksForAFreshRead() {
        AtomicInteger refreshes = new AtomicInteger();
        gate.onRefreshNeeded(refreshes::incrementAndGet);
        read(75, 10);
        assertThat(take(gate, 5)).isEqualTo(5);
        gate.quotaRejected();
        assertThat(refreshes).hasValue(1);
        assertThat(take(gate, 1)).isZero();
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.QUOTA_FULL);
        read(75, 10);
        assertThat(take(gate, 1)).isEqualTo(1);
    }

    @Test
    void aReadStartedBeforeTheRejectionDoesNotReopenTheGate() {
        read(75, 10);
        take(gate, 1);
        CapacityGate.ReadTicket stale = gate.beginRead();
        gate.quotaRejected();
        gate.update(stale, new QuotaReading(75, 10));
        assertThat(take(gate, 1)).isZero();
    }

    @Test
    void permitsReservedForAFetchThatFindsNothingDoNotCountAsQuotaFull() {
        read(75, 60);
        assertThat(gate.tryAcquire(64)).isEqualTo(11);
        assertThat(gate.tryAcquire(64)).as("the reservation still bounds the next fetch").isZero();
        assertThat(gate.state().blocked()).as("an empty stream is not a full quota").isFalse();
        gate.fetched(11, 0);
        assertThat(gate.state().inFlight()).isZero();
        assertThat(gate.state().recentTransitions()).extracting(GateTransition::open)
                .as("only the first read's opening").containsExactly(true);
    }

    @Test
    void aPartialFetchKeepsPermitsOnlyForTheMessagesReceived() {
        read(75, 60);
        int n = gate.tryAcquire(64);
        gate.fetched(n, 4);
        assertThat(gate.state().inFlight()).isEqualTo(4);
        assertThat(gate.tryAcquire(64)).isEqualTo(7);
    }

    @Test
    void aWaitingAcquireWakesTheMomentCapacityIsFreed() throws Exception {
        read(75, 71);
        CompletableFuture<Integer> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return gate.acquire(64, Duration.ofMinutes(1), () -> true);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> !waiting.isDone());
        read(75, 51);
        assertThat(waiting.get(Duration.ofSeconds(2).toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)).isEqualTo(20);
    }

    @Test
    void pauseBlocksUntilResumedWhateverTheQuotaDoes() {
        read(75, 0);
        gate.pause();
        assertThat(take(gate, 10)).isZero();
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.PAUSED);
        read(75, 0);
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.PAUSED);
        gate.resume();
        assertThat(take(gate, 10)).isEqualTo(10);
    }

    @Test
    void disabledGateIsOpenAndOnlyPauseBlocks() {
        CapacityGate off = new CapacityGate(false, 0.95, FailMode.CLOSED, Clock.systemUTC());
        assertThat(take(off, 64)).isEqualTo(64);
        assertThat(off.state().blocked()).isFalse();
        off.pause();
        assertThat(take(off, 64)).isZero();
    }

    @Test
    void aQuotaWithHardZeroBlocksAndAConfigurationErrorIsReportedAsSuch() {
        read(0, 0);
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.QUOTA_FULL);
        gate.readFailed(gate.beginRead(), "ResourceQuota ns/q does not list count/pods", true);
        GateState s = gate.state();
        assertThat(s.reason()).isEqualTo(BlockedReason.QUOTA_UNKNOWN);
        assertThat(s.configurationError()).isTrue();
        assertThat(s.lastError()).contains("does not list");
    }

    @Test
    void transitionsRecordWhenAndWhyTheGateClosedAndKeepTheLatestTwenty() {
        read(75, 71);
        read(75, 0);
        GateState s = gate.state();
        assertThat(s.recentTransitions()).extracting(GateTransition::open).containsExactly(false, true);
        assertThat(s.recentTransitions().get(0).reason()).isEqualTo(BlockedReason.QUOTA_FULL);
        assertThat(s.recentTransitions().get(0).used()).isEqualTo(71);
        assertThat(s.recentTransitions().get(0).threshold()).isEqualTo(71);
        for (int i = 0; i < 30; i++) {
            read(75, i % 2 == 0 ? 75 : 0);
        }
        assertThat(gate.state().recentTransitions()).hasSize(CapacityGate.TRANSITIONS_KEPT);
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void flappingAtTheThresholdIsSummarisedNotLoggedOncePerFetch(CapturedOutput output) {
        read(75, 70);
        for (int i = 0; i < 50; i++) {
            take(gate, 64);          // the one free slot: closed
            gate.settled(1, 0);
            read(75, 70);            // a workflow completed meanwhile: open again
        }
        assertThat(gate.state().recentTransitions()).hasSize(CapacityGate.TRANSITIONS_KEPT);
        long lines = output.getOut().lines().filter(l -> l.contains("Quota gate")).count();
        assertThat(lines).as("log lines for 100 transitions within a second").isLessThanOrEqualTo(2);
    }

    @Test
    @ExtendWith(OutputCaptureExtension.class)
    void anOutageIsLoggedAtOnceEvenRightAfterAnotherTransition(CapturedOutput output) {
        read(75, 70);
        gate.readFailed(gate.beginRead(), "apiserver unreachable", false);
        assertThat(output.getOut()).contains("Quota gate closed (quota_unknown): apiserver unreachable");
    }

    @Test
    void blockedTimeIsAccountedPerReason() {
        await().atMost(Duration.ofSeconds(2)).until(() -> gate.blockedSeconds(BlockedReason.QUOTA_UNKNOWN) > 0.01);
        read(75, 0);
        double unknown = gate.blockedSeconds(BlockedReason.QUOTA_UNKNOWN);
        await().during(Duration.ofMillis(50)).atMost(Duration.ofSeconds(1))
                .until(() -> gate.blockedSeconds(BlockedReason.QUOTA_UNKNOWN) == unknown);
        assertThat(gate.blockedSeconds(BlockedReason.QUOTA_FULL)).isZero();
    }
}
