package io.quotagate.reliability;

import java.time.Duration;
import java.util.List;

import io.quotagate.consumer.NatsConnection;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The server's answer to a pull reaches the service only after the service stopped waiting for it (a server or
 * network that hangs for a few seconds). The message must not wait for ack-wait to come back: it is taken by the
 * next fetch, or, while the gate is closed, handed back to JetStream at once instead of waiting in memory.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
class LateDeliveryIT {

    // Far longer than the test: a message that shows up within it was not redelivered after ack-wait.
    static final Duration ACK_WAIT = Duration.ofSeconds(60);
    static final Duration FETCH_MAX_WAIT = Duration.ofSeconds(1);
    /** Longer than a pull's window (fetch-max-wait plus the reader's grace). */
    static final Duration STALL = FETCH_MAX_WAIT.plusSeconds(2);

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final TcpProxy natsLink = new TcpProxy(env.nats.port());

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.url", () -> natsLink.url("nats"));
        registry.add("jetstream.ack-wait", () -> ACK_WAIT.toSeconds() + "s");
        registry.add("jetstream.fetch-max-wait", () -> FETCH_MAX_WAIT.toMillis() + "ms");
    }

    @LocalServerPort
    int port;

    @Autowired
    NatsConnection connection;

    @AfterEach
    void heal() {
        natsLink.releaseReplies();
        new Http(port).postJson("/actuator/consumer", "{\"state\":\"RESUMED\"}");
    }

    @AfterAll
    static void tearDown() {
        natsLink.close();
    }

    @Test
    void aMessageDeliveredAfterItsPullGaveUpIsCreatedAtOnceNotAfterAckWait() {
        Audit audit = new Audit("late-delivery", env.producer, kubernetes, STREAM, null);
        long seq = deliverWhileRepliesAreHeld(audit);

        natsLink.releaseReplies();

        await().atMost(Duration.ofSeconds(10)).until(() -> audit.objects().containsKey(seq));
        env.awaitDrained(Duration.ofSeconds(10));
        assertThat(env.consumerInfo().getDelivered().getConsumerSequence())
                .as("deliveries by the consumer: the one late delivery, no redelivery").isEqualTo(deliveredBefore + 1);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void aLateDeliveryWhileTheGateIsClosedGoesBackToJetStreamInsteadOfWaitingInMemory() {
        Http http = new Http(port);
        Audit audit = new Audit("late-delivery-gate-closed", env.producer, kubernetes, STREAM, null);
        long seq = deliverWhileRepliesAreHeld(audit);
        double retried = retried(http);
        assertThat(http.postJson("/actuator/consumer", "{\"state\":\"PAUSED\"}").statusCode()).isLessThan(300);

        natsLink.releaseReplies();

        // Handed back to JetStream (nak, counted as retried), not kept by the paused service, and no object made.
        await().atMost(Duration.ofSeconds(10)).until(() -> retried(http) == retried + 1);
        assertThat(audit.objects()).doesNotContainKey(seq);

        assertThat(http.postJson("/actuator/consumer", "{\"state\":\"RESUMED\"}").statusCode()).isLessThan(300);
        await().atMost(Duration.ofSeconds(10)).until(() -> audit.objects().containsKey(seq));
        env.awaitDrained(Duration.ofSeconds(10));
        // A pull still open on the server when the gate closed may take it once more (and hand it back again).
        assertThat(env.consumerInfo().getDelivered().getConsumerSequence())
                .as("deliveries: the late one, then JetStream's own after the nak (none from a buffer in the service)")
                .isGreaterThanOrEqualTo(deliveredBefore + 2);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    private static double retried(Http http) {
        double v = Metrics.outcome(http, "retried");
        return Double.isNaN(v) ? 0 : v;
    }

    long deliveredBefore;

    /**
     * Holds the server's replies, publishes one message (not through the held link), waits until JetStream has
     * sent it to the service's waiting pull and that pull's window is over. Returns its stream sequence.
     */
    private long deliverWhileRepliesAreHeld(Audit audit) {
        await().atMost(Duration.ofSeconds(20)).until(connection::isConnected);
        env.awaitDrained(Duration.ofSeconds(10));
        deliveredBefore = env.consumerInfo().getDelivered().getConsumerSequence();
        natsLink.holdReplies();
        List<Long> seqs = audit.publishJson(SUBJECT, 1);
        // Delivered by the server (to the held link) and not acked: it is on its way to the service.
        await().atMost(Duration.ofSeconds(5)).until(() -> env.consumerInfo().getNumAckPending() == 1);
        long heldSince = System.nanoTime();
        await().atMost(STALL.plusSeconds(1))
                .until(() -> Duration.ofNanos(System.nanoTime() - heldSince).compareTo(STALL) >= 0);
        assertThat(audit.objects()).as("nothing reached the service yet").doesNotContainKey(seqs.get(0));
        return seqs.get(0);
    }
}
