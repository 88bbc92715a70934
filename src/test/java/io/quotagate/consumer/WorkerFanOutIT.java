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
 * Who works a batch. Fast creates run on the fetch loop itself, with the next batch's pull sent ahead within the
 * gate's permits (waking a worker costs more than they do); slow ones fan out to all {@code concurrency} workers,
 * never more; a create hung on the loop or the lead does not hold the rest of its batch back; while creates are
 * slow, each is acked before the next starts; and stopping returns what was pulled ahead to JetStream at once.
 */
class WorkerFanOutIT {

    static final NatsServer server = NatsServer.started();
    static final JetStreamTestClient producer = new JetStreamTestClient(server.url());
    static final AtomicInteger streams = new AtomicInteger();

    private final Map<String, LongAdder> createsByThread = new ConcurrentHashMap<>();
    private final AtomicInteger inCreate = new AtomicInteger();
    private final AtomicInteger mostAtOnce = new AtomicInteger();
    private final LongAdder created = new LongAdder();
    private String stream;
    private String subject;
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
        stream = "FANOUT" + streams.incrementAndGet();
        subject = "fanout" + streams.get() + ".msg";
        producer.createStream(stream, subject);
        producer.publish(subject, messages);
        gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.update(gate.beginRead(), new QuotaReading(quota, 0));
        nats = new NatsConnection(properties());
        nats.open();
        consumer = new QuotaGatedConsumer(properties(), nats, gate, trigger, concurrency, new SimpleMeterRegistry());
        consumer.start();
    }

    /** Ack-wait far beyond every wait here: a message that waits for it shows as missing. */
    private JetStreamProperties properties() {
        return new Binder(new MapConfigurationPropertySource(Map.of(
                "jetstream.url", server.url(), "jetstream.stream", stream, "jetstream.durable", "fanout",
                "jetstream.reconnect-wait", "200ms", "jetstream.ack-wait", "2m")))
                .bindOrCreate("jetstream", Bindable.of(JetStreamProperties.class));
    }

    private long createsOn(String thread) {
        LongAdder n = createsByThread.get(thread);
        return n == null ? 0 : n.sum();
    }

    /**
     * 1,000 fast creates at trigger concurrency 4, and waits for them. The first creates run interpreted and load
     * classes; some take longer than FAN_OUT_AFTER and fan out. After these, the loop works the batches itself.
     */
    private void consumeWarm() throws Exception {
        consume(1_000, trigger(Duration.ZERO, null, 0, 0));
        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 1_000);
    }

    @Test
    void fastCreatesRunOnTheFetchLoop() throws Exception {
        consumeWarm();
        createsByThread.clear();

        producer.publish(subject, 1_000, 2_000);

        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 3_000);
        // Four workers would each take about a quarter. A create the VM happens to stall for 100 µs (a GC pause, the
        // thread preempted) hands the rest of its batch and the next one to the workers: "most", not "all".
        assertThat(createsOn("quotagate-fetch")).as("creates on the fetch loop, by thread: " + createsByThread)
                .isGreaterThanOrEqualTo(1_500);
    }

    @Test
    void thePullSentAheadStaysWithinTheQuota() throws Exception {
        // Fast creates first, so that the loop works the batches itself and pulls each next one ahead.
        consumeWarm();

        // Then room for 1,000 more, read once, and 2,000 stored (paused meanwhile: full batches from the first).
        // Fifteen batches of 64 take 960 permits; the pull sent ahead after them must ask for the 40 left, not 64.
        gate.pause();
        producer.publish(subject, 1_000, 2_000);
        gate.update(gate.beginRead(), new QuotaReading(2_000, 1_000));
        gate.resume();

        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() >= 2_000);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3)).until(() -> created.sum() == 2_000);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                producer.consumerInfo(stream, "fanout").getNumAckPending())
                .as("messages delivered and not settled, with the quota full").isZero());
    }

    @Test
    void stoppingReturnsWhatWasPulledAheadAtOnce() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        // One worker: the loop works every batch itself and has pulled the next one before it starts a create.
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
                new SimpleMeterRegistry());
        consumer.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> created.sum() == 2_000);
    }

    @Test
    void slowCreatesFanOutToEveryWorkerAndNoFurther() throws Exception {
        consume(200, trigger(Duration.ofMillis(2), null, 0, 0));

        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 200);
        // On the lead alone a batch of 64 would take 128 ms; the first create shows that creates are slow.
        assertThat(mostAtOnce.get()).as("creates in flight at once, at trigger concurrency 4").isEqualTo(4);
        assertThat(createsByThread).as("threads that ran creates").hasSize(4);
    }

    @Test
    void aCreateHungOnTheLoopDoesNotHoldItsBatchBack() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try {
            // Fast creates first (enough for the JIT, whose first creates are slow): the loop has then seen that
            // creates are fast and works the next batches itself.
            consume(1_000, trigger(Duration.ZERO, release, 1_001, 1_001));
            await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 1_000);

            // One batch of ten (paused, nothing is fetched until all ten are stored): its first create hangs, on
            // the loop; the nine after it are fast. A pull still waiting at the server would take the first
            // message alone, and a batch of one has nothing to hold back: wait until none is left.
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
    void whileCreatesAreSlowEachIsAckedBeforeTheNextStarts() throws Exception {
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
}
