package io.quotagate;

import java.time.Duration;

import tools.jackson.databind.JsonNode;
import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The original sensor's own integration test, against a real nats-server and the Kubernetes emulation:
 * quota 75, capacity-ratio 0.95, 80 messages in one burst.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@AutoConfigureMetrics
class OriginalSensorScenarioIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(75);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 0.95);
        registry.add("backpressure.poll-interval", () -> "30");
    }

    @LocalServerPort
    int port;

    @Test
    void eightyMessagesIntoAQuotaOfSeventyFiveMakeSeventyOneObjectsThenTheRestWhenCapacityFrees() {
        Http http = new Http(port);
        producer.publish(QuotaGateTestProperties.SUBJECT, 80);

        await().atMost(Duration.ofSeconds(20)).until(() -> kubernetes.objects(NAMESPACE, "Workflow").size() == 71);
        // It must stay at 71: the gate, not luck, stopped it.
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5))
                .until(() -> kubernetes.objects(NAMESPACE, "Workflow").size() == 71);
        assertThat(kubernetes.exceededQuotaRejections()).as("403 exceeded quota").isZero();
        await().atMost(Duration.ofSeconds(5)).until(() -> http.metric("argo_events_sensor_quota_blocked") == 1.0);
        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.get("blocked").asBoolean()).isTrue();
        assertThat(quota.get("blockedReason").asText()).isEqualTo("quota_full");
        assertThat(quota.get("hard").asLong()).isEqualTo(75);
        assertThat(quota.get("used").asLong()).isEqualTo(71);
        assertThat(quota.get("threshold").asLong()).isEqualTo(71);
        ConsumerInfo info = env.consumerInfo();
        assertThat(info.getNumPending()).as("still in JetStream, never fetched").isEqualTo(9);
        assertThat(info.getNumAckPending()).as("nothing held in memory").isZero();

        kubernetes.deleteOldest(NAMESPACE, "Workflow", 20);
        // The quota controller frees usage after its lag; from that update on, the clock runs.
        await().atMost(Duration.ofSeconds(5)).pollInterval(Duration.ofMillis(5))
                .until(() -> kubernetes.used(NAMESPACE, QUOTA, RESOURCE) < 71);
        long quotaUpdated = System.nanoTime();
        await().atMost(Duration.ofSeconds(2)).until(() -> kubernetes.successfulCreates() == 80);
        long resumeMillis = (System.nanoTime() - quotaUpdated) / 1_000_000;
        System.out.printf("[original-sensor scenario] 71 created while full, 0 x 403, 9 pending; "
                + "the 9 created %d ms after the quota update%n", resumeMillis);
        assertThat(kubernetes.objects(NAMESPACE, "Workflow")).hasSize(60);
        await().atMost(Duration.ofSeconds(5)).until(() -> http.metric("argo_events_sensor_quota_blocked") == 0.0);
        assertThat(kubernetes.exceededQuotaRejections()).isZero();
        assertThat(kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE)).isEqualTo(71);
    }
}
