package io.quotagate.consumer;

import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.gate.QuotaReading;
import io.quotagate.ledger.CreatedLedger;
import io.quotagate.reliability.TcpProxy;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import io.quotagate.trigger.TriggerResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * An ack that the service wrote, but that died with its connection before it reached the server, is sent again
 * once the service has reconnected: the message does not wait for ack-wait to be handed out a second time, by
 * when its object may have been deleted (a completed workflow cleaned up) and would be created twice. And an ack
 * the connection refuses outright (closed) does not leave the message's permit held in the gate.
 */
class LostAckIT {

    static final NatsServer server = NatsServer.started();
    static final TcpProxy link = new TcpProxy(server.port());
    static final JetStreamTestClient producer = new JetStreamTestClient(server.url());

    @AfterAll
    static void stopAll() throws Exception {
        producer.close();
        link.close();
        server.close();
    }

    private final AtomicInteger created = new AtomicInteger();

    /** What a test checks once the one message is created. */
    private interface Check {
        void run(NatsConnection nats, CapacityGate gate, QuotaGatedConsumer consumer) throws Exception;
    }

    /**
     * Publishes one message to a stream of its own and consumes it through {@code url}: trigger concurrency 1, room
     * for 1,000 objects, ack-wait {@code ackWait}. {@code inCreate} runs inside the create; once the create has
     * returned, {@code check} runs; then the consumer stops.
     */
    private void consumeOne(String url, String stream, String ackWait, Consumer<NatsConnection> inCreate, Check check)
            throws Exception {
        String subject = stream.toLowerCase() + ".msg";
        producer.createStream(stream, subject);
        producer.publish(subject, 1);
        JetStreamProperties properties = new Binder(new MapConfigurationPropertySource(Map.of(
                "jetstream.url", url, "jetstream.stream", stream, "jetstream.durable", stream.toLowerCase(),
                "jetstream.reconnect-wait", "200ms", "jetstream.ack-wait", ackWait)))
                .bindOrCreate("jetstream", Bindable.of(JetStreamProperties.class));
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.apply(gate.beginRead(), new QuotaReading(1_000, 0));
        try (NatsConnection nats = new NatsConnection(properties)) {
            nats.open();
            QuotaGatedConsumer consumer = new QuotaGatedConsumer(properties, nats, gate, message -> {
                inCreate.accept(nats);
                created.incrementAndGet();
                return TriggerResult.created("obj-" + message.streamSequence());
            }, 1, Duration.ofSeconds(5), CreatedLedger.NONE, new SimpleMeterRegistry());
            consumer.start();
            try {
                await().atMost(Duration.ofSeconds(10)).until(() -> created.get() == 1);
                check.run(nats, gate, consumer);
            } finally {
                consumer.stop();
            }
        }
    }

    @Test
    void anAckTheConnectionRefusesStillGivesItsPermitBack() throws Exception {
        // ack-wait bounds how long the confirmation waits for a connection that will not come back.
        consumeOne(server.url(), "REFUSED", "3s", nats -> {
            // The connection is gone for good by the time the create returns: its ack is refused.
            try {
                nats.connection().close();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, (nats, gate, consumer) -> await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(consumer.inFlight()).as("messages in flight").isZero();
            assertThat(gate.state().inFlight()).as("permits the gate counts as held").isZero();
        }));
    }

    @Test
    void anAckLostWithItsConnectionIsSentAgainAfterTheReconnect() throws Exception {
        // From the create on, nothing the service writes reaches the server: the ack of this create included.
        consumeOne(link.url("nats"), "LOSTACK", "2m", nats -> link.loseRequests(), (nats, gate, consumer) -> {
            // The ack was written to the socket (so jnats counts it as sent) and lost; now the connection dies.
            await().atMost(Duration.ofSeconds(10)).until(() -> link.requestsLost().contains("+ACK"));
            link.passRequests();
            link.dropConnections();

            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(
                    producer.consumerInfo("LOSTACK", "lostack").getNumAckPending())
                    .as("delivered and not acked, long before ack-wait (2 minutes)").isZero());
            assertThat(nats.disconnects()).as("connections lost").isEqualTo(1);
            assertThat(created.get()).as("creates").isEqualTo(1);
        });
    }
}
