package io.quotagate;

import java.time.Duration;
import java.util.HashSet;
import java.util.Set;

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

/**
 * Capacity-ratio 1.0 leaves no margin: 2,000 messages into a quota of 75 while workflows complete at
 * random. Every message must become exactly one object and the apiserver must never answer 403.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
class FullCapacityBurstIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(75);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
        kubernetes.completeAutomatically("Workflow", Duration.ofMillis(20), Duration.ofMillis(300));
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("trigger.kubernetes.concurrency", () -> 8);
    }

    @Test
    void everyMessageBecomesExactlyOneObjectWithoutA403() {
        int messages = 2_000;
        producer.publish(QuotaGateTestProperties.SUBJECT, messages);

        await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250))
                .until(() -> kubernetes.successfulCreates() >= messages);
        env.awaitDrained(Duration.ofSeconds(10));
        System.out.printf("[capacity-ratio 1.0] %d messages -> %d creates, %d x 403, max used %d of 75%n", messages,
                kubernetes.successfulCreates(), kubernetes.exceededQuotaRejections(),
                kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE));
        assertThat(kubernetes.successfulCreates()).as("objects created").isEqualTo(messages);
        assertThat(kubernetes.exceededQuotaRejections()).as("403 exceeded quota").isZero();
        assertThat(kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE)).isLessThanOrEqualTo(75);
        Set<String> names = new HashSet<>(kubernetes.createdNames());
        assertThat(names).hasSize(messages);
    }
}
