package io.quotagate.consumer;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.concurrent.locks.LockSupport;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.gate.QuotaReading;
import io.quotagate.ledger.CreatedLedger;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import io.quotagate.trigger.Trigger;
import io.quotagate.trigger.TriggerResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Who works a message. Creates run on all {@code concurrency} workers, never more; a hung create holds one worker,
 * not the rest of its batch; each message is acked when its create returns, not when its batch is done; fetches stay
 * within the gate's permits; and stopping returns what is queued behind a hung create to JetStream at once.
 */
class WorkerPoolIT {

    static final NatsServer server = NatsServer.started();
    static final JetStreamTestClient producer = new JetStreamTestClient(server.url());
    static final AtomicInteger streams = new AtomicInteger();

    private final Map<String, LongAdder> createsByThread = new ConcurrentHashMap<>();
    private final AtomicInteger inCreate = new AtomicInteger();
    private final AtomicInteger mostAtOnce = new AtomicInteger();
    private final LongAdder created = new LongAdder();
    private String stream;
    private String subject;
    /** Far beyond every wait here unless a test says otherwise: a message that waits for it shows as missing. */
    private String ackWait = "2m";
    private CapacityGate gate;
    private QuotaGatedConsumer consumer;
    private NatsConnection nats;

    @AfterAll
    static void stopServer() throws Exception {
        producer.close();
        server.close();
    }

    @AfterEach
    void stopConsumer() {
        if (consumer != null) {
            consumer.stop();
        }
        if (nats != null) {
            nats.close();
        }
    }

    /**
     * A trigger that takes {@code latency} and, for stream sequences {@code hangFrom} to {@code hangTo}, waits for
     * {@code release}; it records who ran each create and how many ran at once.
     */
    private Trigger trigger(Duration latency, CountDownLatch release, long hangFrom, long hangTo) {
        return message -> {
            int now = inCreate.incrementAndGet();
            mostAtOnce.accumulateAndGet(now, Math::max);
            try {
                createsByThread.computeIfAbsent(Thread.currentThread().getName(), k -> new LongAdder()).increment();
                if (!latency.isZero()) {
                    LockSupport.parkNanos(latency.toNanos()); // the emulated create's own latency
                }
                long sequence = message.streamSequence();
                if (release != null && sequence >= hangFrom && sequence <= hangTo) {
                    release.await(30, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                inCreate.decrementAndGet();
            }
            created.increment();
            return TriggerResult.created("obj-" + message.streamSequence());
        };
    }

    /** Publishes {@code messages} to a fresh stream and starts a consumer on it at trigger concurrency 4. */
    private void consume(int messages, Trigger trigger) throws Exception {
        consume(messages, trigger, 4);
    }

    private void consume(int messages, Trigger trigger, int concurrency) throws Exception {
        consume(messages, trigger, concurrency, 1_000_000);
    }

    /** As above, with a quota of {@code quota} objects of which none is used yet. */
    private void consume(int messages, Trigger trigger, int concurrency, long quota) throws Exception {
        consume(messages, trigger, concurrency, quota, CreatedLedger.NONE);
    }

    private void consume(int messages, Trigger trigger, int concurrency, long quota, CreatedLedger ledger)
            throws Exception {
        stream = "FANOUT" + streams.incrementAndGet();
        subject = "fanout" + streams.get() + ".msg";
        producer.createStream(stream, subject);
        producer.publish(subject, messages);
        gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.apply(gate.beginRead(), new QuotaReading(quota, 0));
        nats = new NatsConnection(properties());
        nats.open();
        consumer = new QuotaGatedConsumer(properties(), nats, gate, trigger, concurrency, Duration.ofSeconds(5),
                ledger, new SimpleMeterRegistry());
        consumer.start();
    }

    /** Ack-wait far beyond every wait here: a message that waits for it shows as missing. */
    private JetStreamProperties properties() {
        return new Binder(new MapConfigurationPropertySource(Map.of(
                "jetstream.url", server.url(), "jetstream.stream", stream, "jetstream.durable", "fanout",
                "jetstream.reconnect-wait", "200ms", "jetstream.ack-wait", ackWait)))
                .bindOrCreate("jetstream", Bindable.of(JetStreamProperties.class));
    }

    @Test
    void fetchesStayWithinTheQuota() throws Exception {
        consume(1_000, trigger(Duration.ZERO, null, 0, 0));
        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 1_000);

        // Then room for 1,000 more, read once, and 2,000 stored (paused meanwhile: full batches from the first).
        // Fifteen batches of 64 take 960 permits; the fetch after them must ask for the 40 left, not 64.
        gate.pause();
        producer.publish(subject, 1_000, 2_000);
        gate.apply(gate.beginRead(), new QuotaReading(2_000, 1_000));
        gate.resume();

        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() >= 2_000);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> created.sum() == 2_000);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                producer.consumerInfo(stream, "fanout").getNumAckPending())
                .as("messages delivered and not settled, with the quota full").isZero());
    }

    @Test
    void stoppingReturnsWhatIsQueuedBehindAHungCreateAtOnce() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        // One worker: while it hangs in a create, the loop has fetched the next messages into the pool's queue.
        consume(1_000, trigger(Duration.ZERO, release, 1_001, 1_001), 1);
        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 1_000);
        producer.publish(subject, 1_000, 1_000);
        await().atMost(Duration.ofSeconds(10)).until(() -> inCreate.get() == 1);

        Thread stopping = new Thread(consumer::stop, "test-stop");
        stopping.start();
        await().atMost(Duration.ofSeconds(10)).until(() -> !consumer.isRunning());
        // Stop waits for the create it interrupted no more than it would for any create.
        release.countDown();
        stopping.join(Duration.ofSeconds(30).toMillis());
        assertThat(stopping.isAlive()).as("stop() still waiting").isFalse();
        nats.close();
        assertThat(created.sum()).as("created before the stop").isEqualTo(1_001);

        // Restarted, the rest comes at once: nothing was left for ack-wait (2 minutes) to hand out again.
        nats = new NatsConnection(properties());
        nats.open();
        consumer = new QuotaGatedConsumer(properties(), nats, gate, trigger(Duration.ZERO, null, 0, 0), 1,
                Duration.ofSeconds(5), CreatedLedger.NONE, new SimpleMeterRegistry());
        consumer.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> created.sum() == 2_000);
    }

    @Test
    void createsRunOnEveryWorkerAndNoMore() throws Exception {
        consume(200, trigger(Duration.ofMillis(2), null, 0, 0));

        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 200);
        assertThat(mostAtOnce.get()).as("creates in flight at once, at trigger concurrency 4").isEqualTo(4);
        assertThat(createsByThread).as("threads that ran creates").hasSize(4);
    }

    @Test
    void aHungCreateDoesNotHoldItsBatchBack() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try {
            consume(1_000, trigger(Duration.ZERO, release, 1_001, 1_001));
            await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 1_000);

            // One batch of ten (paused, nothing is fetched until all ten are stored): its first create hangs; the
            // nine after it are fast. A pull still waiting at the server would take the first message alone, and a
            // batch of one has nothing to hold back: wait until none is left.
            gate.pause();
            await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5))
                    .until(() -> producer.consumerInfo(stream, "fanout").getNumWaiting() == 0);
            producer.publish(subject, 1_000, 10);
            gate.resume();

            await().atMost(Duration.ofSeconds(10)).until(() -> created.sum() == 1_009);
            assertThat(inCreate.get()).as("the hung create").isEqualTo(1);
        } finally {
            release.countDown();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 1_010);
        assertThat(mostAtOnce.get()).as("never more than trigger concurrency").isLessThanOrEqualTo(4);
    }

    @Test
    void eachIsAckedBeforeTheNextStarts() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try {
            // One worker: a slow create (2 ms), then one that hangs. The first must be acked while the second
            // hangs, not after it: its permit is held and JetStream may redeliver it meanwhile.
            consume(2, trigger(Duration.ofMillis(2), release, 2, 2), 1);
            await().atMost(Duration.ofSeconds(10)).until(() -> created.sum() == 1 && inCreate.get() == 1);

            await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                    producer.consumerInfo(stream, "fanout").getNumAckPending())
                    .as("messages delivered and not acked, while the second create hangs").isEqualTo(1));
        } finally {
            release.countDown();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 2);
    }

    @Test
    void messagesWaitingLongerThanAckWaitForAWorkerAreKeptAlive() throws Exception {
        // One worker, 12 creates of 500 ms: the last waits about 6 s in the pool's queue, twice the ack-wait of 3 s.
        // Without in-progress acks JetStream would hand the waiting ones out again meanwhile.
        ackWait = "3s";
        consume(12, trigger(Duration.ofMillis(500), null, 0, 0), 1);

        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 12);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                producer.consumerInfo(stream, "fanout").getNumAckPending()).isZero());
        // Every delivery, redeliveries included, advances the consumer sequence; a redelivery would meet this
        // process's memory of the create (acked as exists), so only the count shows it.
        assertThat(producer.consumerInfo(stream, "fanout").getDelivered().getConsumerSequence())
                .as("deliveries").isEqualTo(12);
        assertThat(created.sum()).as("creates").isEqualTo(12);
    }

    @Test
    void messagesWaitingLongerThanAckWaitForTheirRecordAreKeptAlive() throws Exception {
        // A record store that stalls for twice the ack-wait of 3 s and never keeps its messages alive itself, as a
        // write hanging until its request timeout holds those queued behind it: only the consumer's keep-alive
        // thread keeps JetStream from handing them to another replica, which would find no record.
        ackWait = "3s";
        StalledLedger ledger = new StalledLedger(Duration.ofSeconds(6));
        consume(4, trigger(Duration.ZERO, null, 0, 0), 4, 1_000_000, ledger);

        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 4 && ledger.stored.get() == 4);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                producer.consumerInfo(stream, "fanout").getNumAckPending()).isZero());
        assertThat(producer.consumerInfo(stream, "fanout").getDelivered().getConsumerSequence())
                .as("deliveries").isEqualTo(4);
        ledger.close();
    }

    /** Stores each record {@code stall} after it is handed over; keeps a message alive only when asked to. */
    static final class StalledLedger implements CreatedLedger, AutoCloseable {
        private record Waiting(Runnable stillWaiting, long since) {
        }

        final Duration stall;
        final AtomicInteger stored = new AtomicInteger();
        private final Map<Waiting, Boolean> waiting = new ConcurrentHashMap<>();
        private final java.util.concurrent.ScheduledExecutorService clock =
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor();

        StalledLedger(Duration stall) {
            this.stall = stall;
        }

        @Override
        public boolean contains(String streamIdentity, long streamSequence) {
            return false;
        }

        @Override
        public void record(String streamIdentity, long streamSequence, Runnable stillWaiting, Runnable stored,
                           java.util.function.Consumer<String> notStored) {
            Waiting w = new Waiting(stillWaiting, System.nanoTime());
            waiting.put(w, true);
            clock.schedule(() -> {
                waiting.remove(w);
                this.stored.incrementAndGet();
                stored.run();
            }, stall.toMillis(), TimeUnit.MILLISECONDS);
        }

        @Override
        public void keepWaiting(Duration olderThan) {
            long before = System.nanoTime() - olderThan.toNanos();
            waiting.keySet().stream().filter(w -> w.since() - before < 0).forEach(w -> w.stillWaiting().run());
        }

        @Override
        public void close() {
            clock.shutdownNow();
        }
    }
}
