package io.quotagate;

import java.time.Duration;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The original sensor's "stuck sensor": a create that hangs holds the fetch loop. Liveness must go DOWN
 * after the stall timeout so Kubernetes restarts the pod; readiness is about NATS and stays UP.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@AutoConfigureMetrics
class LivenessStallIT {

    static final NatsServer nats = NatsServer.started();
    static final KubernetesApiEmulation kubernetes = new KubernetesApiEmulation();
    static final JetStreamTestClient producer = new JetStreamTestClient(nats.url());

    static {
        kubernetes.createQuota(NAMESPACE, QUOTA, RESOURCE, 100);
        producer.createStream(QuotaGateTestProperties.STREAM, "events.>");
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, 1.0);
        registry.add("jetstream.stall-timeout", () -> "10s");
        registry.add("trigger.kubernetes.request-timeout", () -> "2m");
        registry.add("trigger.kubernetes.concurrency", () -> 1);
    }

    @AfterAll
    static void tearDown() throws Exception {
        producer.close();
        kubernetes.close();
        nats.close();
    }

    @LocalServerPort
    int port;

    @Test
    void aHungCreateTurnsLivenessDownAfterTheStallTimeout() {
        Http http = new Http(port);
        assertThat(http.get("/actuator/health/liveness").statusCode()).isEqualTo(200);

        kubernetes.setCreateLatency(Duration.ofSeconds(90));
        producer.publish(QuotaGateTestProperties.SUBJECT, 1);

        await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/actuator/health/liveness").statusCode() == 503);
        JsonNode consumer = http.getJson("/actuator/health").get("components").get("consumer");
        assertThat(consumer.get("status").asText()).isEqualTo("DOWN");
        assertThat(consumer.get("details").get("stalled").asBoolean()).isTrue();
        assertThat(http.metric("quotagate_consumer_stalled")).isEqualTo(1.0);
        assertThat(http.get("/actuator/health/readiness").statusCode()).as("NATS is fine").isEqualTo(200);
    }
}
