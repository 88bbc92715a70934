package io.quotagate.reliability;

import java.time.Duration;
import java.util.List;

import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
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
 * Issue 17, case 4: {@code jetstream.max-deliver} counts failed create attempts, not deliveries. Deliveries handed back
 * unstarted (here: by pauses while the messages wait behind a slow create) used to count toward the durable's
 * MaxDeliver, and JetStream stopped delivering the messages whose last allowed delivery was one of those: never
 * created, never dead-lettered. Now the durable's own MaxDeliver is unlimited and the policy decides.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
class MaxDeliverIT {

    static final int MESSAGES = 4;
    static final Duration CREATE_LATENCY = Duration.ofMillis(1500);

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        kubernetes.setCreateLatency(CREATE_LATENCY);
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.max-deliver", () -> 2);
        // One create at a time: the others wait in the pool's queue behind it, and a pause hands them back unstarted.
        registry.add("trigger.kubernetes.concurrency", () -> 1);
    }

    @LocalServerPort
    int port;

    @Test
    void deliveriesHandedBackUnstartedNeverExhaustMaxDeliver() {
        Http http = new Http(port);
        Audit audit = new Audit("max-deliver", producer, kubernetes, STREAM, null);
        List<Long> seqs = audit.publishJson(SUBJECT, MESSAGES);

        // Three times: once a create has begun (the object is stored at once, the answer comes after the latency),
        // pause; the messages queued behind it go back to JetStream unstarted; resume. The last message is
        // delivered four times, twice more than max-deliver allows, and never tried before the last round.
        for (int round = 1; round < MESSAGES; round++) {
            int created = round;
            await().atMost(Duration.ofSeconds(20)).until(() -> kubernetes.successfulCreates() == created);
            assertThat(http.postJson("/actuator/consumer", "{\"state\":\"PAUSED\"}").statusCode()).isEqualTo(200);
            // Nak'd messages wait in JetStream for their redelivery (num_ack_pending counts them until then); the
            // service holds none of them.
            await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
                assertThat(http.getJson("/actuator/consumer").get("inFlight").asInt()).as("held by the service").isZero();
                ConsumerInfo info = env.consumerInfo();
                assertThat(info.getNumPending() + info.getNumAckPending()).as("in JetStream")
                        .isEqualTo(MESSAGES - created);
            });
            assertThat(http.postJson("/actuator/consumer", "{\"state\":\"RESUMED\"}").statusCode()).isEqualTo(200);
        }

        await().atMost(Duration.ofSeconds(30)).until(() -> kubernetes.successfulCreates() == MESSAGES);
        env.awaitDrained(Duration.ofSeconds(20));
        assertThat(Metrics.outcome(http, "retried")).as("deliveries handed back unstarted")
                .isGreaterThanOrEqualTo(3 + 2 + 1);
        assertThat(Metrics.outcome(http, "dead_lettered")).isZero();
        assertThat(env.consumerInfo().getConsumerConfiguration().getMaxDeliver())
                .as("the durable's own MaxDeliver").isEqualTo(-1);
        audit.assertNothingLostNothingDuplicated("quotagate");
        assertThat(seqs).hasSize(MESSAGES);
    }
}
