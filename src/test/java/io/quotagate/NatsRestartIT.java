package io.quotagate;

import java.time.Duration;
import java.util.HashSet;

import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A nats-server restart in the middle of a run loses nothing and duplicates nothing. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
class NatsRestartIT {

    static final NatsServer nats = NatsServer.started();
    static final KubernetesApiEmulation kubernetes = new KubernetesApiEmulation();
    static final JetStreamTestClient producer = new JetStreamTestClient(nats.url());

    static {
        kubernetes.createQuota(NAMESPACE, QUOTA, RESOURCE, 100_000);
        // Slow creates keep work in flight when the server goes away.
        kubernetes.setCreateLatency(Duration.ofMillis(5));
        producer.createStream(QuotaGateTestProperties.STREAM, "events.>");
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, 1.0);
        registry.add("jetstream.ack-wait", () -> "5s");
        registry.add("jetstream.batch-size", () -> 16);
    }

    @AfterAll
    static void tearDown() throws Exception {
        producer.close();
        kubernetes.close();
        nats.close();
    }

    @Test
    void aRestartMidRunLosesNothingAndDuplicatesNothing() {
        int messages = 1_000;
        producer.publish(QuotaGateTestProperties.SUBJECT, messages);
        await().atMost(Duration.ofSeconds(30)).until(() -> kubernetes.successfulCreates() >= 200);

        nats.restart();

        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(250))
                .until(() -> kubernetes.successfulCreates() >= messages);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(30)).until(() -> {
            ConsumerInfo info = producer.consumerInfo(QuotaGateTestProperties.STREAM, "quotagate");
            return info.getNumPending() == 0 && info.getNumAckPending() == 0;
        });
        System.out.printf("[nats restart] %d messages -> %d objects created, %d distinct%n", messages,
                kubernetes.successfulCreates(), new HashSet<>(kubernetes.createdNames()).size());
        assertThat(kubernetes.successfulCreates()).as("lost or duplicated").isEqualTo(messages);
        assertThat(kubernetes.objects(NAMESPACE, "Workflow")).hasSize(messages);
    }
}
