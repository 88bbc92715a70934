package io.quotagate.gate;

import java.math.BigDecimal;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.quotagate.support.MillisClock;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.junit.jupiter.api.parallel.ResourceLock;
import io.quotagate.support.SharedLogging;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

@ResourceLock(SharedLogging.LOCK)
class CapacityGateTest {

    private final CapacityGate gate = new CapacityGate(true, 0.95, FailMode.CLOSED, Clock.systemUTC());
    /** Permits of fetched messages not resolved yet, oldest first. */
    private final Deque<CapacityGate.Permit> held = new ArrayDeque<>();

    /**
     * One fetch that finds as many messages as it has permits (what the consumer does when the stream has enough):
     * every permit is taken and held until a test resolves it.
     */
    private int take(CapacityGate g, int max) {
        try (CapacityGate.Lease lease = g.tryLease(max)) {
            for (int i = 0; i < lease.permits(); i++) {
                held.add(lease.take());
            }
            return lease.permits();
        }
    }

    /** The oldest held message became an object. */
    private void created() {
        held.remove().created();
    }

    /** The oldest held message did not become an object. */
    private void returned() {
        held.remove().returned();
    }

    private void read(long hard, long used) {
        gate.apply(gate.beginRead(), new QuotaReading(hard, used));
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
        try (CapacityGate.Lease lease = gate.tryLease(64)) { // a fetch now waits for its first message with these
            assertThat(lease.permits()).isEqualTo(64);
            assertThat(gate.permitsRevoked()).isFalse();
            gate.readFailed(gate.beginRead(), "apiserver down", false);
            assertThat(gate.permitsRevoked()).as("fail-closed: the waiting fetch must take nothing more").isTrue();
            read(100, 0);
            assertThat(gate.permitsRevoked()).isFalse();
            lease.take().quotaRejected();
            assertThat(gate.permitsRevoked()).isTrue();
        }
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
        for (int i = 0; i < 5; i++) {
            returned();
        }
        assertThat(take(gate, 2)).isEqualTo(2);
    }

    @Test
    void createdObjectsStayCountedUntilAReadStartedAfterThem() {
        read(10, 0);
        assertThat(take(gate, 10)).isEqualTo(9); // threshold floor(10 × 0.95) = 9
        CapacityGate.ReadTicket before = gate.beginRead();
        for (int i = 0; i < 9; i++) {
            created();
        }
        // This read was sent before the creates returned: it may show used 0, yet nothing may be let through.
        gate.apply(before, new QuotaReading(10, 0));
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
    void permitsResolvedInAnyOrderMoveThePermitsOneByOne() {
        read(10, 0);
        assertThat(take(gate, 9)).isEqualTo(9);
        CapacityGate.ReadTicket before = gate.beginRead();
        // Six objects created, two messages nak'd, interleaved as workers finish them; one message still creating.
        List<CapacityGate.Permit> permits = new ArrayList<>(held);
        held.clear();
        int[] order = {3, 0, 7, 1, 5, 2, 6, 4};
        for (int i : order) {
            if (i == 1 || i == 6) {
                permits.get(i).returned();
            } else {
                permits.get(i).created();
            }
        }
        gate.apply(before, new QuotaReading(10, 0));
        GateState state = gate.state();
        assertThat(state.createdUnobserved()).as("created, not yet seen by a read").isEqualTo(6);
        assertThat(state.inFlight()).as("the one still creating").isEqualTo(1);
        assertThat(take(gate, 10)).as("the two returned permits; the one still held stays counted").isEqualTo(2);
        permits.get(8).created();
        read(10, 7);
        assertThat(gate.state().createdUnobserved()).isZero();
        assertThat(take(gate, 10)).as("threshold 9, used 7, 2 out").isZero();
    }

    @Test
    void permitsResolvedFromSeveralThreadsGiveTheSameStateAsOneByOne() throws Exception {
        CapacityGate sequential = new CapacityGate(true, 0.95, FailMode.CLOSED, Clock.systemUTC());
        int n = 2_000;
        for (CapacityGate g : List.of(gate, sequential)) {
            g.apply(g.beginRead(), new QuotaReading(10_000, 100));
        }
        List<CapacityGate.Permit> concurrent = new ArrayList<>();
        List<CapacityGate.Permit> oneByOne = new ArrayList<>();
        try (CapacityGate.Lease a = gate.tryLease(n); CapacityGate.Lease b = sequential.tryLease(n)) {
            for (int i = 0; i < n; i++) {
                concurrent.add(a.take());
                oneByOne.add(b.take());
            }
        }
        // Message i is created when i % 3 != 0, else returned; every permit is also resolved a second time.
        for (int i = 0; i < n; i++) {
            if (i % 3 == 0) {
                oneByOne.get(i).returned();
            } else {
                oneByOne.get(i).created();
            }
        }
        int threads = 4;
        CountDownLatch start = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int first = t;
                workers.add(pool.submit(() -> {
                    start.await();
                    // Each thread goes over every permit from a different start, so each permit is raced by all.
                    for (int k = 0; k < n; k++) {
                        int i = (first * n / threads + k) % n;
                        if (i % 3 == 0) {
                            concurrent.get(i).returned();
                        } else {
                            concurrent.get(i).created();
                        }
                        concurrent.get(i).returned(); // the settler's finally
                    }
                    return null;
                }));
            }
            start.countDown();
            for (Future<?> w : workers) {
                w.get(20, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
        GateState got = gate.state();
        GateState want = sequential.state();
        assertThat(got.inFlight()).isZero().isEqualTo(want.inFlight());
        assertThat(got.createdUnobserved()).isEqualTo(want.createdUnobserved()).isEqualTo(n - (n + 2) / 3);
        assertThat(got.headroom()).isEqualTo(want.headroom());
        assertThat(got.reason()).isEqualTo(want.reason());
        assertThat(gate.batchesFetched()).isEqualTo(sequential.batchesFetched()).isEqualTo(1);
    }

    @Test
    void theLastPermitResolvedAsCreatedAsksForAReadWhenOnlyUnobservedCreatesBlock() {
        AtomicInteger refreshes = new AtomicInteger();
        gate.onRefreshNeeded(refreshes::incrementAndGet);
        read(10, 0);
        int n = take(gate, 64);
        assertThat(n).isEqualTo(9);
        CapacityGate.ReadTicket raced = gate.beginRead(); // the last create's watch event, ahead of its response
        for (int i = 0; i < n - 1; i++) {
            created();
        }
        gate.apply(raced, new QuotaReading(10, 9));
        assertThat(refreshes).as("another permit is still in flight and will report").hasValue(0);
        created();
        assertThat(refreshes).as("a fresh read, or the gate waits for the next poll").hasValue(1);
        read(10, 9);
        take(gate, 1);
        assertThat(refreshes).as("nothing unobserved any more").hasValue(1);
    }

    /**
     * The fetch loop hands each message to a worker while its fetch still waits for more, so the last permit can be
     * resolved before the lease is closed. If only unobserved creates block once the lease gives its untaken permits
     * back, nothing else will report: the gate must ask for a read then, as it does when the last permit resolves.
     */
    @Test
    void aLeaseClosedAfterItsLastPermitResolvedAsksForAReadWhenOnlyUnobservedCreatesBlock() {
        AtomicInteger refreshes = new AtomicInteger();
        gate.onRefreshNeeded(refreshes::incrementAndGet);
        read(10, 0); // threshold 9
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(9);
            List<CapacityGate.Permit> permits = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                permits.add(lease.take()); // the stream held 8 messages; the fetch waits for a ninth
            }
            CapacityGate.ReadTicket raced = gate.beginRead(); // the last create's watch event, ahead of its response
            permits.forEach(CapacityGate.Permit::created);
            gate.apply(raced, new QuotaReading(10, 8));
            assertThat(refreshes).as("the lease still reserves a permit").hasValue(0);
        }
        assertThat(gate.state().inFlight()).isZero();
        assertThat(gate.state().createdUnobserved()).isEqualTo(8);
        assertThat(gate.state().reason()).as("used 8 + 8 unobserved of 9").isEqualTo(BlockedReason.QUOTA_FULL);
        assertThat(refreshes).as("a fresh read, or the gate waits for the next poll").hasValue(1);
    }

    @Test
    void theLastPermitResolvedAsReturnedDoesNotAskForAReadWhenNothingIsUnobserved() {
        AtomicInteger refreshes = new AtomicInteger();
        gate.onRefreshNeeded(refreshes::incrementAndGet);
        read(10, 9);
        read(10, 0);
        take(gate, 64);
        while (!held.isEmpty()) {
            returned();
        }
        assertThat(refreshes).hasValue(0);
    }

    @Test
    void aReadOvertakenByANewerOneIsIgnored() {
        CapacityGate.ReadTicket older = gate.beginRead();
        CapacityGate.ReadTicket newer = gate.beginRead();
        gate.apply(newer, new QuotaReading(75, 71));
        gate.apply(older, new QuotaReading(75, 0));
        assertThat(gate.state().used()).isEqualTo(71);
        assertThat(take(gate, 1)).isZero();
    }

    @Test
    void aFailedReadOvertakenByANewerAppliedOneIsIgnored() {
        CapacityGate.ReadTicket older = gate.beginRead();
        CapacityGate.ReadTicket newer = gate.beginRead();
        gate.apply(newer, new QuotaReading(75, 0));
        gate.readFailed(older, "timed out", false);
        assertThat(gate.state().blocked()).isFalse();
        assertThat(gate.state().lastError()).isNull();
    }

    @Test
    void exceededQuotaClosesTheGateAtOnceAndAsksForAFreshRead() {
        AtomicInteger refreshes = new AtomicInteger();
        gate.onRefreshNeeded(refreshes::incrementAndGet);
        read(75, 10);
        assertThat(take(gate, 5)).isEqualTo(5);
        held.remove().quotaRejected();
        assertThat(refreshes).hasValue(1);
        assertThat(gate.permitsRevoked()).isTrue();
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
        held.remove().quotaRejected();
        gate.apply(stale, new QuotaReading(75, 10));
        assertThat(take(gate, 1)).isZero();
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.QUOTA_FULL);
    }

    @Test
    void permitsReservedForAFetchThatFindsNothingDoNotCountAsQuotaFull() {
        read(75, 60);
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(11);
            assertThat(take(gate, 64)).as("the reservation still bounds the next fetch").isZero();
            assertThat(gate.state().blocked()).as("an empty stream is not a full quota").isFalse();
        }
        assertThat(gate.state().inFlight()).isZero();
        assertThat(gate.batchesFetched()).as("a fetch that found nothing").isZero();
        assertThat(gate.state().recentTransitions()).extracting(GateTransition::open)
                .as("only the first read's opening").containsExactly(true);
    }

    @Test
    void aPartialFetchKeepsPermitsOnlyForTheMessagesReceived() {
        read(75, 60);
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(11);
            for (int i = 0; i < 4; i++) {
                held.add(lease.take());
            }
            assertThat(lease.untaken()).isEqualTo(7);
        }
        assertThat(gate.state().inFlight()).isEqualTo(4);
        assertThat(take(gate, 64)).isEqualTo(7);
    }

    @Test
    void aLeaseClosedWithUntakenPermitsGivesThemBackOnceAndKeepsTheTakenOnesHeld() {
        read(20, 0); // threshold 19
        CapacityGate.Lease lease = gate.tryLease(10);
        assertThat(lease.permits()).isEqualTo(10);
        CapacityGate.Permit first = lease.take();
        CapacityGate.Permit second = lease.take();
        // The view counts what messages hold; the eight permits nobody took yet are a reservation, not in flight.
        assertThat(gate.state().inFlight()).isEqualTo(2);
        assertThat(gate.state().headroom()).isEqualTo(17);
        assertThat(gate.tryLease(100).permits()).as("what a second fetch could take meanwhile").isEqualTo(9);
        lease.close();
        assertThat(lease.untaken()).isZero();
        assertThat(gate.state().inFlight()).as("the two taken permits are still held").isEqualTo(2);
        assertThat(gate.state().headroom()).isEqualTo(17);
        assertThat(gate.batchesFetched()).isEqualTo(1);
        lease.close();
        assertThat(gate.state().inFlight()).as("closing twice gives nothing back twice").isEqualTo(2);
        assertThat(gate.state().headroom()).isEqualTo(17);
        assertThatThrownBy(lease::take).as("a closed lease has nothing left to take")
                .isInstanceOf(IllegalStateException.class);
        first.returned();
        second.created();
        assertThat(gate.state().inFlight()).isZero();
        assertThat(gate.state().createdUnobserved()).isEqualTo(1);
        assertThat(gate.state().headroom()).isEqualTo(18);
    }

    @Test
    void aFetchsPermitsTakenTogetherAreHeldAndLeaveTheHeadroomAsItWas() {
        read(100, 80); // threshold 95: 15 free
        try (CapacityGate.Lease lease = gate.tryLease(10)) {
            try (CapacityGate.Lease rest = gate.tryLease(64)) {
                assertThat(rest.permits()).as("the rest while the fetch is under way").isEqualTo(5);
            }
            List<CapacityGate.Permit> permits = lease.take(4);
            assertThat(permits).hasSize(4).doesNotHaveDuplicates();
            assertThat(gate.state().inFlight()).isEqualTo(4);
            assertThat(lease.untaken()).isEqualTo(6);
            assertThatThrownBy(() -> lease.take(7)).isInstanceOf(IllegalStateException.class);
            permits.get(0).created();
            permits.get(1).returned();
            assertThat(gate.state().inFlight()).isEqualTo(2);
            assertThat(gate.state().createdUnobserved()).isEqualTo(1);
        }
        // 15 − 2 held − 1 created and unobserved; the 6 untaken and the 5 of the closed probe lease came back
        assertThat(gate.tryLease(64).permits()).isEqualTo(12);
    }

    @Test
    void aLeaseWithAllPermitsTakenRefusesOneMore() {
        read(75, 0);
        try (CapacityGate.Lease lease = gate.tryLease(2)) {
            lease.take();
            lease.take();
            assertThatThrownBy(lease::take).isInstanceOf(IllegalStateException.class).hasMessageContaining("2 permits");
            assertThat(gate.state().inFlight()).isEqualTo(2);
        }
        assertThat(gate.state().inFlight()).isEqualTo(2);
    }

    @Test
    void aPermitResolvedTwiceCountsOnce() {
        read(20, 0); // threshold 19
        take(gate, 3);
        CapacityGate.Permit a = held.remove();
        CapacityGate.Permit b = held.remove();
        CapacityGate.Permit c = held.remove();
        a.created();
        a.returned();
        a.created();
        a.quotaRejected();
        assertThat(a.resolved()).isTrue();
        b.returned();
        b.created();
        b.returned();
        GateState s = gate.state();
        assertThat(s.inFlight()).as("only c is still held").isEqualTo(1);
        assertThat(s.createdUnobserved()).as("a created once, b never").isEqualTo(1);
        assertThat(s.headroom()).isEqualTo(17);
        assertThat(s.blocked()).as("a's late quotaRejected did nothing").isFalse();
        assertThat(gate.permitsRevoked()).isFalse();
        assertThat(c.resolved()).isFalse();
        c.quotaRejected();
        c.returned();
        c.created();
        assertThat(gate.state().createdUnobserved()).isEqualTo(1);
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.QUOTA_FULL);
        read(20, 1);
        assertThat(gate.state().headroom()).isEqualTo(18);
        assertThat(gate.state().inFlight()).isZero();
    }

    @Test
    void aWaitingLeaseWakesTheMomentCapacityIsFreed() throws Exception {
        read(75, 71);
        CompletableFuture<Integer> waiting = CompletableFuture.supplyAsync(() -> {
            try (CapacityGate.Lease lease = gate.lease(64, Duration.ofMinutes(1), () -> true)) {
                return lease.permits();
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        await().during(Duration.ofMillis(200)).atMost(Duration.ofSeconds(2)).until(() -> !waiting.isDone());
        read(75, 51);
        assertThat(waiting.get(2, TimeUnit.SECONDS)).isEqualTo(20);
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
    void disabledGateIsOpenAndOnlyPauseOrForbiddenBlocks() {
        CapacityGate off = new CapacityGate(false, 0.95, FailMode.CLOSED, Clock.systemUTC());
        assertThat(take(off, 64)).isEqualTo(64);
        assertThat(off.state().blocked()).isFalse();
        off.pause();
        assertThat(take(off, 64)).isZero();
        off.resume();
        off.forbidden("namespace argo is being terminated");
        assertThat(take(off, 64)).isZero();
        assertThat(off.state().reason()).isEqualTo(BlockedReason.FORBIDDEN);
    }

    @Test
    void forbiddenClosesTheGateAndRevokesPermitsUntilACreateIsAllowed() {
        read(75, 0);
        String denial = "workflows.argoproj.io is forbidden: User \"system:serviceaccount:argo:quotagate\" cannot create";
        try (CapacityGate.Lease lease = gate.tryLease(10)) {
            assertThat(lease.permits()).isEqualTo(10);
            CapacityGate.Permit p = lease.take();
            gate.forbidden(denial);
            assertThat(gate.permitsRevoked()).as("the waiting fetch takes nothing more").isTrue();
            p.returned();
        }
        GateState s = gate.state();
        assertThat(s.blocked()).isTrue();
        assertThat(s.reason()).isEqualTo(BlockedReason.FORBIDDEN);
        assertThat(s.blockedFor(BlockedReason.FORBIDDEN)).isTrue();
        assertThat(s.lastError()).isEqualTo(denial);
        assertThat(s.headroom()).isZero();
        assertThat(s.inFlight()).isZero();
        assertThat(take(gate, 10)).isZero();
        assertThat(gate.wantsFreshRead()).as("closed").isTrue();

        read(75, 0);
        assertThat(gate.state().reason()).as("a good read does not lift a denial").isEqualTo(BlockedReason.FORBIDDEN);
        assertThat(gate.state().lastError()).isEqualTo(denial);

        gate.createAllowed();
        assertThat(gate.permitsRevoked()).isFalse();
        assertThat(gate.state().blocked()).isFalse();
        assertThat(gate.state().lastError()).isNull();
        assertThat(take(gate, 10)).isEqualTo(10);
        assertThat(gate.state().recentTransitions()).extracting(GateTransition::reason)
                .containsSubsequence(BlockedReason.FORBIDDEN, null);
    }

    @Test
    void forbiddenWithoutAMessageStillSaysForbiddenAndCreateAllowedWhileNotForbiddenDoesNothing() {
        read(75, 70);
        gate.createAllowed();
        assertThat(gate.state().reason()).isNull();
        gate.forbidden("  ");
        assertThat(gate.state().lastError()).isEqualTo("forbidden");
        gate.forbidden("namespace argo is being terminated");
        assertThat(gate.state().lastError()).as("the latest denial").isEqualTo("namespace argo is being terminated");
        gate.createAllowed();
        gate.createAllowed();
        assertThat(gate.state().reason()).isNull();
    }

    @Test
    void forbiddenWorksOnADisabledGate() {
        CapacityGate off = new CapacityGate(false, 1.0, FailMode.CLOSED, Clock.systemUTC());
        off.forbidden("namespace argo is being terminated");
        assertThat(off.permitsRevoked()).isTrue();
        assertThat(off.state().reason()).isEqualTo(BlockedReason.FORBIDDEN);
        assertThat(off.state().lastError()).isEqualTo("namespace argo is being terminated");
        assertThat(take(off, 64)).isZero();
        off.createAllowed();
        assertThat(off.permitsRevoked()).isFalse();
        assertThat(off.state().blocked()).isFalse();
        assertThat(take(off, 64)).isEqualTo(64);
    }

    @Test
    void pauseWinsOverForbiddenAndForbiddenRemainsAfterResume() {
        read(75, 0);
        gate.forbidden("denied");
        gate.pause();
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.PAUSED);
        gate.resume();
        assertThat(gate.state().reason()).isEqualTo(BlockedReason.FORBIDDEN);
        gate.createAllowed();
        assertThat(gate.state().blocked()).isFalse();
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
            created();
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
    @ExtendWith(OutputCaptureExtension.class)
    void aDenialIsLoggedAtOnceWithTheApiserversWords(CapturedOutput output) {
        read(75, 70);
        gate.forbidden("namespace argo is being terminated");
        assertThat(output.getOut()).contains("Quota gate closed (forbidden)")
                .contains("namespace argo is being terminated");
    }

    @Test
    void blockedTimeIsAccountedPerReason() {
        await().atMost(Duration.ofSeconds(2)).until(() -> gate.blockedSeconds(BlockedReason.QUOTA_UNKNOWN) > 0.01);
        read(75, 0);
        double unknown = gate.blockedSeconds(BlockedReason.QUOTA_UNKNOWN);
        await().during(Duration.ofMillis(50)).atMost(Duration.ofSeconds(1))
                .until(() -> gate.blockedSeconds(BlockedReason.QUOTA_UNKNOWN) == unknown);
        assertThat(gate.blockedSeconds(BlockedReason.QUOTA_FULL)).isZero();
        assertThat(gate.blockedSeconds(BlockedReason.FORBIDDEN)).isZero();
    }

    @Test
    void blockedTimeWhileForbiddenIsAccountedUnderForbidden() {
        read(75, 0);
        gate.forbidden("denied");
        await().atMost(Duration.ofSeconds(2)).until(() -> gate.blockedSeconds(BlockedReason.FORBIDDEN) > 0.01);
        gate.createAllowed();
        double forbidden = gate.blockedSeconds(BlockedReason.FORBIDDEN);
        assertThat(forbidden).isGreaterThan(0.01);
        await().during(Duration.ofMillis(50)).atMost(Duration.ofSeconds(1))
                .until(() -> gate.blockedSeconds(BlockedReason.FORBIDDEN) == forbidden);
        assertThat(gate.blockedSeconds(BlockedReason.QUOTA_FULL)).as("not counted as a full quota").isZero();
        assertThat(gate.blockedSeconds(BlockedReason.PAUSED)).isZero();

        // From full straight to forbidden: each period is accounted under its own reason.
        read(75, 75);
        await().atMost(Duration.ofSeconds(2)).until(() -> gate.blockedSeconds(BlockedReason.QUOTA_FULL) > 0.01);
        gate.forbidden("denied");
        double full = gate.blockedSeconds(BlockedReason.QUOTA_FULL);
        await().atMost(Duration.ofSeconds(2)).until(() -> gate.blockedSeconds(BlockedReason.FORBIDDEN) > forbidden + 0.01);
        assertThat(gate.blockedSeconds(BlockedReason.QUOTA_FULL)).isEqualTo(full);
    }

    @Test
    void createsHaveTheWholeRequestTimeoutUntilACoordinationBoundsThem() {
        assertThat(gate.createWindowMillis()).isEqualTo(Long.MAX_VALUE);
    }

    @Test
    void aCreateMayTakeWhatIsLeftOfTheLeaseAndNoneStartsAfterTheStartBy() {
        java.util.concurrent.atomic.AtomicLong now = new java.util.concurrent.atomic.AtomicLong(1_000_000);
        Clock clock = new MillisClock(now::get);
        CapacityGate closed = new CapacityGate(true, 1.0, FailMode.CLOSED, clock);
        closed.createsBounded(now.get() + 7_500, now.get() + 10_000);
        assertThat(closed.createWindowMillis()).isEqualTo(10_000);
        now.addAndGet(7_500);
        assertThat(closed.createWindowMillis()).as("the last moment a create may start").isEqualTo(2_500);
        now.incrementAndGet();
        assertThat(closed.createWindowMillis()).as("past the start-by").isZero();
        closed.coordinationFailing("bucket gone");
        assertThat(closed.createWindowMillis()).as("fail-mode closed: still bounded").isZero();

        CapacityGate open = new CapacityGate(true, 1.0, FailMode.OPEN, clock);
        open.createsBounded(now.get() - 1, now.get() + 100);
        assertThat(open.createWindowMillis()).isZero();
        open.coordinationFailing("bucket gone");
        assertThat(open.createWindowMillis()).as("fail-mode open: this process goes on alone")
                .isEqualTo(Long.MAX_VALUE);
    }

    /**
     * Before a replica's first heartbeat nothing may start, so the fetch loop waits instead of fetching messages it
     * could only hand back (a replica starting up used to fetch a batch and nak it at once); the heartbeat that opens
     * the window wakes it.
     */
    @Test
    void theFetchLoopWaitsForTheCreateWindowAndTheHeartbeatWakesIt() throws Exception {
        java.util.concurrent.atomic.AtomicLong now = new java.util.concurrent.atomic.AtomicLong(1_000_000);
        CapacityGate replica = new CapacityGate(true, 1.0, FailMode.CLOSED, new MillisClock(now::get));
        assertThat(replica.awaitCreateWindow(Duration.ofSeconds(5), () -> true)).as("no coordination: open").isTrue();

        replica.createsBounded(Long.MIN_VALUE, Long.MIN_VALUE); // a coordination started, no heartbeat written yet
        assertThat(replica.awaitCreateWindow(Duration.ofMillis(50), () -> true)).as("before the first heartbeat")
                .isFalse();

        java.util.concurrent.CompletableFuture<Boolean> waiting = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return replica.awaitCreateWindow(Duration.ofMinutes(1), () -> true);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        await().pollDelay(Duration.ofMillis(100)).atMost(Duration.ofSeconds(5)).until(() -> !waiting.isDone());
        replica.createsBounded(now.get() + 7_500, now.get() + 10_000); // the first heartbeat written
        assertThat(waiting.get(10, java.util.concurrent.TimeUnit.SECONDS)).as("woken by the heartbeat").isTrue();

        now.addAndGet(7_501);
        assertThat(replica.awaitCreateWindow(Duration.ofMillis(50), () -> true)).as("past the start-by").isFalse();
    }
}
