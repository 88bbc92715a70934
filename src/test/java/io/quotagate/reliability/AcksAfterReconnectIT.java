package io.quotagate.reliability;

import java.time.Duration;
import java.util.List;

import io.quotagate.consumer.QuotaGatedConsumer;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 17, "acks that arrive": five nats-server restarts while messages flow. An ack written just before a cut dies
 * with the old connection; left alone, its message waits a whole ack-wait to be redelivered, and
 * after such a run {@code num_ack_pending} stayed above zero with nothing in flight. Every ack not confirmed before a
 * cut is now sent again after the reconnect, before new work is pulled.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
@DirtiesContext
class AcksAfterReconnectIT {

    /**
     * Longer than every wait for acks below, so only acks that arrive can clear them; short enough that a delivery
     * lost in a cut (the server counts it delivered, the service never saw it) is handed out again within the test.
     */
    static final Duration ACK_WAIT = Duration.ofSeconds(20);

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        kubernetes.setCreateLatency(Duration.ofMillis(20));
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.ack-wait", () -> ACK_WAIT.toSeconds() + "s");
        registry.add("jetstream.reconnect-wait", () -> "200ms");
        registry.add("jetstream.batch-size", () -> 16);
    }

    @Autowired
    QuotaGatedConsumer consumer;

    @Test
    void afterEachReconnectTheAcksOfBeforeTheCutReachTheServer() {
        Audit audit = new Audit("acks-after-reconnect", producer, kubernetes, STREAM, null);
        List<Long> seqs = audit.publishJson(SUBJECT, 500);
        for (int i = 1; i <= 5; i++) {
            int target = i * 70;
            await().atMost(Duration.ofSeconds(60))
                    .until(() -> audit.objects().keySet().stream().filter(seqs::contains).count() >= target);
            nats.restart();
        }
        await().atMost(Duration.ofSeconds(60)).until(() -> audit.objects().keySet().containsAll(seqs));

        // Within seconds, not ack-wait: once the creates are done, what JetStream still counts as delivered and not
        // acked is only what the service still holds.
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            long inFlight = consumer.inFlight();
            assertThat(env.consumerInfo().getNumAckPending()).as("num_ack_pending, in flight " + inFlight)
                    .isLessThanOrEqualTo(inFlight);
            assertThat(env.consumerInfo().getNumPending()).isZero();
        });
        assertThat(consumer.inFlight()).isZero();
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
