package io.quotagate;

import java.time.Duration;
import java.util.HashSet;

import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** A nats-server restart in the middle of a run loses nothing and duplicates nothing. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
class NatsRestartIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        // Slow creates keep work in flight when the server goes away.
        kubernetes.setCreateLatency(Duration.ofMillis(5));
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.ack-wait", () -> "5s");
        // Shorter than ack-wait, as start-up requires: a create still running at ack-wait would be handed out again.
        registry.add("trigger.kubernetes.request-timeout", () -> "2s");
        registry.add("jetstream.batch-size", () -> 16);
    }

    @Test
    void aRestartMidRunLosesNothingAndDuplicatesNothing() {
        int messages = 1_000;
        producer.publish(QuotaGateTestProperties.SUBJECT, messages);
        await().atMost(Duration.ofSeconds(30)).until(() -> kubernetes.successfulCreates() >= 200);

        nats.restart();

        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(250))
                .until(() -> kubernetes.successfulCreates() >= messages);
        env.awaitDrained(Duration.ofSeconds(30));
        System.out.printf("[nats restart] %d messages -> %d objects created, %d distinct%n", messages,
                kubernetes.successfulCreates(), new HashSet<>(kubernetes.createdNames()).size());
        assertThat(kubernetes.successfulCreates()).as("lost or duplicated").isEqualTo(messages);
        assertThat(kubernetes.objects(NAMESPACE, "Workflow")).hasSize(messages);
    }
}
