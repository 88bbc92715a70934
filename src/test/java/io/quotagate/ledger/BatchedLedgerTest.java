package io.quotagate.ledger;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

/**
 * The created-record's logic against an in-memory store with the KV bucket's compare-and-set: batching (one write per
 * block per window, acks released only after it), replicas writing the same block, expiry, failures.
 */
class BatchedLedgerTest {

    static final String ID = "2026-12-06T22:00:00.123456789Z";
    final MemoryBlockStore store = new MemoryBlockStore();
    final List<BatchedLedger> started = new ArrayList<>();
    final List<Long> acked = Collections.synchronizedList(new ArrayList<>());
    final List<String> nakd = Collections.synchronizedList(new ArrayList<>());

    BatchedLedger ledger(Duration window) {
        BatchedLedger l = new BatchedLedger(store, "EVENTS", window, new SimpleMeterRegistry());
        l.start();
        started.add(l);
        return l;
    }

    final List<Long> ackedBeforeStored = Collections.synchronizedList(new ArrayList<>());

    /** Records {@code seq}; its ack checks that the store holds its bit at that moment. */
    void record(BatchedLedger l, long seq) {
        l.record(ID, seq, () -> {
            if (!storeHolds(seq)) {
                ackedBeforeStored.add(seq);
            }
            acked.add(seq);
        }, why -> nakd.add(seq + ": " + why));
    }

    boolean storeHolds(long seq) {
        String fail = store.failWith;
        store.failWith = null;
        try {
            BlockStore.Entry e = store.get(Blocks.key("EVENTS", ID, seq));
            return e != null && Blocks.isSet(e.value(), Blocks.bit(seq));
        } catch (Exception e) {
            throw new AssertionError(e);
        } finally {
            store.failWith = fail;
        }
    }

    @AfterEach
    void stop() throws InterruptedException {
        for (BatchedLedger l : started) {
            l.stop(Duration.ofSeconds(5));
        }
        assertThat(ackedBeforeStored).as("acks released before their record was stored").isEmpty();
    }

    @Test
    void aBurstIsStoredWithOneWritePerBlockAndEachAckLeavesOnlyAfterItsBlockIsStored() {
        BatchedLedger l = ledger(Duration.ofSeconds(1));
        for (long seq = 1000; seq < 1100; seq++) { // crosses the block boundary at 1024
            record(l, seq);
        }
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.size() == 100);
        // The first record, after a quiet spell, may go alone at once; the rest wait for the next round: one write
        // per touched block.
        assertThat(store.writes.get()).as("writes for 100 records").isBetween(2, 3);
        assertThat(nakd).isEmpty();
        for (long seq = 1000; seq < 1100; seq++) {
            assertThat(l.contains(ID, seq)).as("seq " + seq).isTrue();
        }
        assertThat(l.contains(ID, 999)).isFalse();
        assertThat(l.contains(ID, 1100)).isFalse();
        assertThat(l.contains("2026-12-07T00:00:00Z", 1000)).as("another incarnation of the stream").isFalse();
    }

    @Test
    void aRecordWrittenByOneReplicaIsSeenByAnotherAndConcurrentWritesToOneBlockAreMergedNotLost() {
        BatchedLedger a = ledger(Duration.ofMillis(50));
        BatchedLedger b = ledger(Duration.ofMillis(50));
        record(a, 1);
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(1L));
        record(b, 2); // b has never seen the block: it reads a's value and adds its own bit
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(2L));
        record(a, 3); // a's remembered revision is stale now: its write is refused, it reads, merges, writes again
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(3L));
        assertThat(store.conflicts.get()).as("the stale write was refused").isEqualTo(1);
        for (long seq = 1; seq <= 3; seq++) {
            assertThat(a.contains(ID, seq)).isTrue();
            assertThat(b.contains(ID, seq)).isTrue();
        }
    }

    @Test
    void aWriteThatLosesTheRaceToAnotherReplicaReadsTheBlockAgainAndKeepsBothRecords() {
        BatchedLedger a = ledger(Duration.ofMillis(20));
        String key = Blocks.key("EVENTS", ID, 40);
        boolean[] once = {true};
        store.beforeWrite = () -> {
            if (once[0]) { // another replica stores seq 41 between a's read and a's write
                once[0] = false;
                byte[] other = Blocks.empty();
                Blocks.set(other, Blocks.bit(41));
                try {
                    store.create(key, other);
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            }
        };
        record(a, 40);
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(40L));
        assertThat(store.conflicts.get()).isEqualTo(1);
        assertThat(a.contains(ID, 40)).isTrue();
        assertThat(a.contains(ID, 41)).as("the other replica's record survived").isTrue();
    }

    @Test
    void aBlockThatExpiredIsWrittenAgainFromScratch() {
        BatchedLedger l = ledger(Duration.ofMillis(20));
        record(l, 5);
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(5L));
        store.expireAll();
        record(l, 6);
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(6L));
        assertThat(l.contains(ID, 6)).isTrue();
        assertThat(l.contains(ID, 5)).as("expired with its block").isFalse();
        assertThat(nakd).isEmpty();
    }

    @Test
    void whenTheRecordCannotBeWrittenTheMessagesAreNotAckedButNakdAndTheProblemIsReportedUntilAWriteSucceeds() {
        BatchedLedger l = ledger(Duration.ofMillis(20));
        store.failWith = "permissions violation for publish to $KV.quotagate-created-test.x";
        record(l, 7);
        record(l, 8);
        await().atMost(Duration.ofSeconds(10)).until(() -> nakd.size() == 2);
        assertThat(acked).isEmpty();
        assertThat(nakd.get(0)).contains("permissions violation");
        assertThat(l.problem()).contains("quotagate-created-test").contains("permissions violation");

        store.failWith = null;
        record(l, 7); // the redelivery, created again in this test's terms: this time it is stored
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(7L));
        assertThat(l.problem()).isNull();
    }

    @Test
    void aWriteThatFailsWhileJetStreamComesBackIsTriedAgainAndItsAcksLeaveInsteadOfNaks() {
        BatchedLedger l = new BatchedLedger(store, "EVENTS", Duration.ofMillis(20), Duration.ofSeconds(5),
                Connectivity.STEADY, new SimpleMeterRegistry());
        l.start();
        started.add(l);
        store.unavailableFor.set(3);
        record(l, 7);
        record(l, 8);
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.size() == 2);
        assertThat(nakd).as("naks sent while NATS reconnects are lost with the connection").isEmpty();
        assertThat(l.problem()).isNull();
    }

    @Test
    void aWriteStillFailingWhenItsRetriesRunOutNaksItsMessages() {
        BatchedLedger l = new BatchedLedger(store, "EVENTS", Duration.ofMillis(20), Duration.ofMillis(600),
                Connectivity.STEADY, new SimpleMeterRegistry());
        l.start();
        started.add(l);
        store.unavailableFor.set(1_000);
        record(l, 7);
        await().atMost(Duration.ofSeconds(10)).until(() -> nakd.size() == 1);
        assertThat(acked).isEmpty();
        assertThat(nakd.get(0)).contains("No Responders");
        store.unavailableFor.set(0);
    }

    /** A link whose state the test sets. */
    static final class Link implements Connectivity {
        volatile boolean up = true;
        final java.util.concurrent.atomic.AtomicLong drops = new java.util.concurrent.atomic.AtomicLong();

        @Override
        public boolean isConnected() {
            return up;
        }

        @Override
        public long disconnects() {
            return drops.get();
        }
    }

    final List<Long> keptWaiting = Collections.synchronizedList(new ArrayList<>());

    BatchedLedger ledger(Duration retryWithin, Connectivity link) {
        BatchedLedger l = new BatchedLedger(store, "EVENTS", Duration.ofMillis(20), retryWithin, link,
                new SimpleMeterRegistry());
        l.start();
        started.add(l);
        return l;
    }

    void recordKeptAlive(BatchedLedger l, long seq) {
        l.record(ID, seq, () -> keptWaiting.add(seq), () -> {
            if (!storeHolds(seq)) {
                ackedBeforeStored.add(seq);
            }
            acked.add(seq);
        }, why -> nakd.add(seq + ": " + why));
    }

    @Test
    void aWriteSentAsTheServerWentAwayAndFailingAfterTheReconnectIsTriedAgainThoughItsWindowRanOut() {
        // ReplicasNatsRestartIT: the write's request timed out 2 s after a 0.3 s restart, past the whole window; the
        // nak that followed let another replica create the message again once its object was gone.
        Link link = new Link();
        BatchedLedger l = ledger(Duration.ofMillis(50), link);
        java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
        store.beforeWrite = () -> {
            if (first.getAndSet(false)) {
                link.drops.incrementAndGet();
                throw new IllegalStateException("Timeout or no response waiting for NATS JetStream server");
            }
        };
        recordKeptAlive(l, 7);
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(7L));
        assertThat(nakd).as("a created message nak'd unrecorded becomes a twin once its object is gone").isEmpty();
    }

    @Test
    void whileNatsIsDownACreatedMessageWaitsForItsRecordAndIsAckedOnceNatsIsBack() {
        Link link = new Link();
        link.up = false;
        link.drops.incrementAndGet();
        store.failWith = "not connected to NATS";
        BatchedLedger l = ledger(Duration.ofMillis(100), link);
        recordKeptAlive(l, 7);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5)).until(() -> nakd.isEmpty());
        assertThat(keptWaiting).as("in-progress acks sent while disconnected are lost: none").isEmpty();

        store.failWith = null;
        link.up = true;
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(7L));
        assertThat(nakd).isEmpty();
    }

    @Test
    void aMessageWhoseRecordIsTriedAgainIsKeptFromBeingRedelivered() {
        BatchedLedger l = ledger(Duration.ofSeconds(5), new Link());
        store.unavailableFor.set(3);
        recordKeptAlive(l, 7);
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(7L));
        assertThat(keptWaiting).as("in-progress acks while the write was retried").contains(7L);
    }

    /** Writes that hang for {@code hang} and then time out, as against a server stopped with SIGSTOP. */
    void unansweredWrites(int times, Duration hang) {
        store.hang = hang;
        store.unansweredFor.set(times);
    }

    @Test
    void aWriteThatGotNoAnswerIsTriedAgainPastItsWindowAndItsAckLeavesOnceAWriteIsStored() {
        // ReplicasNatsRestartIT, stalls: a 3 s stall of the server made writes time out after 2 s, past the whole 1.25 s
        // window; their messages were nak'd unrecorded and created again by other replicas.
        BatchedLedger l = ledger(Duration.ofMillis(200), new Link()); // each timeout outlasts the window's rest
        unansweredWrites(3, Duration.ofMillis(150));
        recordKeptAlive(l, 7);
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.contains(7L) || !nakd.isEmpty());
        assertThat(nakd).as("a created message nak'd unrecorded becomes a twin once its object is gone").isEmpty();
        assertThat(acked).containsExactly(7L);
    }

    @Test
    void aStoreThatNeverAnswersHoldsItsMessagesTwelveWindowsThenNaksThem() {
        BatchedLedger l = ledger(Duration.ofMillis(50), new Link());
        unansweredWrites(Integer.MAX_VALUE, Duration.ofMillis(20));
        long t0 = System.nanoTime();
        recordKeptAlive(l, 7);
        await().atMost(Duration.ofSeconds(10)).until(() -> nakd.size() == 1);
        assertThat(Duration.ofNanos(System.nanoTime() - t0)).as("held for the unanswered windows, not for ever")
                .isGreaterThanOrEqualTo(Duration.ofMillis(50L * RetryWindow.UNANSWERED_WINDOWS - 300));
        assertThat(acked).isEmpty();
        unansweredWrites(0, Duration.ZERO);
    }

    @Test
    void recordsQueuedBehindAHangingWriteAreKeptAliveByThePeriodicKeeper() throws Exception {
        BatchedLedger l = ledger(Duration.ofSeconds(5), new Link());
        java.util.concurrent.CountDownLatch release = new java.util.concurrent.CountDownLatch(1);
        java.util.concurrent.CountDownLatch hanging = new java.util.concurrent.CountDownLatch(1);
        store.beforeWrite = () -> {
            hanging.countDown();
            try {
                release.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        recordKeptAlive(l, 7); // its write hangs
        assertThat(hanging.await(10, java.util.concurrent.TimeUnit.SECONDS)).isTrue();
        recordKeptAlive(l, 8); // queued behind it
        l.keepWaiting(Duration.ofDays(1));
        assertThat(keptWaiting).as("nothing has waited a day").isEmpty();
        await().atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            l.keepWaiting(Duration.ofMillis(1));
            assertThat(keptWaiting).contains(7L, 8L);
        });
        store.beforeWrite = () -> { };
        release.countDown();
        await().atMost(Duration.ofSeconds(10)).until(() -> acked.containsAll(List.of(7L, 8L)));
        assertThat(nakd).isEmpty();
    }

    @Test
    void aLookupThatCannotReadTheStoreSaysSoInsteadOfAnsweringNo() {
        BatchedLedger l = ledger(Duration.ofMillis(20));
        store.failWith = "timeout";
        assertThatThrownBy(() -> l.contains(ID, 1)).isInstanceOf(LedgerUnavailableException.class)
                .hasMessageContaining("quotagate-created-test");
    }

    @Test
    void stoppingStoresWhatIsWaitingAndReleasesItsAcks() throws InterruptedException {
        BatchedLedger l = ledger(Duration.ofSeconds(30));
        record(l, 11);
        l.stop(Duration.ofSeconds(5));
        assertThat(acked).containsExactly(11L);
        record(l, 12);
        assertThat(nakd).as("after the stop nothing is acked without its record").hasSize(1);
    }

    @Test
    void namesAreMadeOfTheCharactersJetStreamAllows() {
        assertThat(Blocks.bucket("my.durable*x")).isEqualTo("quotagate-created-my_durable_x");
        assertThat(Blocks.key("EVENTS", ID, 2049)).isEqualTo("EVENTS.2026-12-06T22_00_00_123456789Z.2");
        assertThat(Blocks.key("EVENTS", null, 1)).isEqualTo("EVENTS.unknown.0");
    }

    @Test
    void recordsAreKeptForTenRoundsOfAckWaitAndTheLongestBackOffAndAtLeastAnHour() {
        assertThat(RecordBound.of(Duration.ofSeconds(30), Duration.ofSeconds(60), Duration.ofSeconds(5)))
                .isEqualTo(Duration.ofHours(1));
        assertThat(RecordBound.of(Duration.ofMinutes(10), Duration.ofMinutes(5), Duration.ofSeconds(5)))
                .isEqualTo(Duration.ofMinutes(150));
        assertThat(RecordBound.of(Duration.ofMinutes(10), Duration.ofMinutes(1), Duration.ofMinutes(6)))
                .isEqualTo(Duration.ofMinutes(160));
    }
}
