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
 * How many workers a batch gets. Fast creates stay on the lead worker (waking more threads costs more than they do);
 * slow ones fan out to all {@code concurrency} workers, never more; a lead hung in one create does not hold the
 * rest of its batch back; and while creates are slow, each is acked before the next starts.
 */
class WorkerFanOutIT {

    static final NatsServer server = NatsServer.started();
    static final JetStreamTestClient producer = new JetStreamTestClient(server.url());
    static final AtomicInteger streams = new AtomicInteger();

    private final Map<String, LongAdder> createsByThread = new ConcurrentHashMap<>();
    private final AtomicInteger inCreate = new AtomicInteger();
    private final AtomicInteger mostAtOnce = new AtomicInteger();
    private final LongAdder created = new LongAdder();
    private String subject;
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
        String stream = "FANOUT" + streams.incrementAndGet();
        subject = "fanout" + streams.get() + ".msg";
        producer.createStream(stream, subject);
        producer.publish(subject, messages);
        JetStreamProperties properties = new Binder(new MapConfigurationPropertySource(Map.of(
                "jetstream.url", server.url(), "jetstream.stream", stream, "jetstream.durable", "fanout",
                "jetstream.reconnect-wait", "200ms")))
                .bindOrCreate("jetstream", Bindable.of(JetStreamProperties.class));
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.update(gate.beginRead(), new QuotaReading(1_000_000, 0));
        nats = new NatsConnection(properties);
        nats.open();
        consumer = new QuotaGatedConsumer(properties, nats, gate, trigger, concurrency, new SimpleMeterRegistry());
        consumer.start();
    }

    private long createsOn(String thread) {
        LongAdder n = createsByThread.get(thread);
        return n == null ? 0 : n.sum();
    }

    @Test
    void fastCreatesStayOnTheLeadWorker() throws Exception {
        // The first creates run interpreted and load classes; some take longer than FAN_OUT_AFTER and fan out.
        consume(1_000, trigger(Duration.ZERO, null, 0, 0));
        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 1_000);
        createsByThread.clear();

        producer.publish(subject, 1_000, 2_000);

        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 3_000);
        // Four workers would each take about a quarter. A create the VM happens to stall for 100 µs fans out one
        // batch (64 messages), so "nearly all", not "all".
        assertThat(createsOn("quotagate-trigger-1")).as("creates on the lead worker, by thread: " + createsByThread)
                .isGreaterThanOrEqualTo(1_800);
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
    void aLeadHungInOneCreateDoesNotHoldItsBatchBack() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        try {
            // Fast creates first (enough for the JIT, whose first creates are slow): the lead has then seen that
            // creates are fast and takes the next batches alone.
            consume(1_000, trigger(Duration.ZERO, release, 1_001, 1_001));
            await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 1_000);

            // The next create hangs, on the lead; the nine after it are fast.
            producer.publish(subject, 1_000, 10);

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
                    producer.consumerInfo("FANOUT" + streams.get(), "fanout").getNumAckPending())
                    .as("messages delivered and not acked, while the second create hangs").isEqualTo(1));
        } finally {
            release.countDown();
        }
        await().atMost(Duration.ofSeconds(30)).until(() -> created.sum() == 2);
    }
}
