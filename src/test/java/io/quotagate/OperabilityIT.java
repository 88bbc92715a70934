package io.quotagate;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.TestMethodOrder;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * What an engineer on call sees and does, through the real HTTP endpoints: the metrics after a known
 * run, /api/quota, health, and pause / resume.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@AutoConfigureMetrics
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class OperabilityIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(20);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        // A dead letter counts only once a stream stores it; without one the poison message would stay pending.
        producer.createStream("DEADLETTER", "deadletter.>");
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 0.5);
        registry.add("jetstream.dead-letter-subject", () -> "deadletter.quotagate");
        registry.add("trigger.kubernetes.concurrency", () -> 1);
    }

    @LocalServerPort
    int port;

    @Test
    @Order(1)
    void afterAKnownRunEveryMetricTellsWhatHappened() {
        Http http = new Http(port);
        // Threshold floor(20 × 0.5) = 10. One poison message among 12 good ones: 10 created, 1 dead-lettered, 2 wait.
        producer.publish(SUBJECT, 0, 1);
        producer.publishRaw(SUBJECT, "not json".getBytes(StandardCharsets.UTF_8));
        producer.publish(SUBJECT, 1, 11);

        await().atMost(Duration.ofSeconds(20)).until(() -> kubernetes.successfulCreates() == 10);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            assertThat(http.metric("quotagate_backlog_messages")).isEqualTo(2.0);
            assertThat(http.metric("argo_events_sensor_quota_blocked")).isEqualTo(1.0);
        });
        assertThat(http.metric("quotagate_messages_total{application=\"quotagate\",outcome=\"created\"}"))
                .as("created must equal the objects actually created").isEqualTo(kubernetes.successfulCreates());
        assertThat(http.metric("quotagate_messages_total{application=\"quotagate\",outcome=\"dead_lettered\"}")).isEqualTo(1.0);
        assertThat(http.metric("quotagate_messages_total{application=\"quotagate\",outcome=\"exists\"}")).isZero();
        assertThat(http.metric("quotagate_messages_total{application=\"quotagate\",outcome=\"quota_rejected\"}")).isZero();
        assertThat(http.metric("quotagate_messages_total{application=\"quotagate\",outcome=\"retried\"}")).isZero();
        assertThat(http.metric("quotagate_quota_hard")).isEqualTo(20.0);
        assertThat(http.metric("quotagate_quota_used")).isEqualTo(10.0);
        assertThat(http.metric("quotagate_quota_threshold")).isEqualTo(10.0);
        assertThat(http.metric("quotagate_quota_headroom")).isZero();
        assertThat(http.metric("quotagate_inflight_messages")).isZero();
        assertThat(http.metric("quotagate_ack_pending_messages")).isZero();
        assertThat(http.metric("quotagate_trigger_seconds_count")).isEqualTo(11.0);
        assertThat(http.metric("quotagate_blocked_seconds_total{application=\"quotagate\",reason=\"quota_full\"}")).isPositive();
        assertThat(http.metric("quotagate_blocked_seconds_total{application=\"quotagate\",reason=\"paused\"}")).isZero();
        assertThat(http.metric("quotagate_quota_reads_total{application=\"quotagate\",result=\"ok\"}")).isPositive();
        assertThat(http.metric("quotagate_quota_reads_total{application=\"quotagate\",result=\"error\"}")).isZero();
        assertThat(http.metric("quotagate_consumer_stalled")).isZero();

        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.get("blockedReason").asText()).isEqualTo("quota_full");
        assertThat(quota.get("paused").asBoolean()).isFalse();
        assertThat(quota.get("backlog").get("pending").asLong()).isEqualTo(2);
        assertThat(quota.get("backlog").get("ackPending").asLong()).isZero();
        JsonNode last = quota.get("transitions").get(quota.get("transitions").size() - 1);
        assertThat(last.get("state").asText()).isEqualTo("closed");
        assertThat(last.get("reason").asText()).isEqualTo("quota_full");
        assertThat(last.get("threshold").asLong()).isEqualTo(10);
        assertThat(last.hasNonNull("at")).isTrue();

        JsonNode health = http.getJson("/actuator/health");
        assertThat(health.get("status").asText()).as("blocked is never DOWN").isEqualTo("UP");
        assertThat(health.get("components").get("quota").get("details").get("reason").asText()).isEqualTo("quota_full");
        assertThat(http.get("/actuator/health/liveness").statusCode()).isEqualTo(200);
        assertThat(http.getJson("/actuator/health/liveness").get("components").has("consumer")).isTrue();
        assertThat(http.get("/actuator/health/readiness").statusCode()).isEqualTo(200);
        assertThat(http.getJson("/actuator/health/readiness").get("components").has("jetstream")).isTrue();
    }

    @Test
    @Order(2)
    void pauseStopsCreatesWithinTwoSecondsAndResumeRestartsThem() {
        Http http = new Http(port);
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, 1_000); // room again: 2 waiting messages flow
        await().atMost(Duration.ofSeconds(5)).until(() -> kubernetes.successfulCreates() == 12);

        assertThat(http.postJson("/actuator/consumer", "{\"state\":\"PAUSED\"}").statusCode()).isEqualTo(200);
        long before = kubernetes.successfulCreates();
        producer.publish(SUBJECT, 100, 20);
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(4))
                .until(() -> kubernetes.successfulCreates() == before);
        assertThat(http.getJson("/actuator/consumer").get("state").asText()).isEqualTo("PAUSED");
        assertThat(http.metric("argo_events_sensor_quota_blocked")).isEqualTo(1.0);
        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.get("paused").asBoolean()).isTrue();
        assertThat(quota.get("blockedReason").asText()).isEqualTo("paused");
        assertThat(http.getJson("/actuator/health").get("components").get("consumer").get("details").get("state").asText())
                .isEqualTo("PAUSED");
        // A quota change does not un-pause.
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, 2_000);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(3))
                .until(() -> kubernetes.successfulCreates() == before);

        assertThat(http.postJson("/actuator/consumer", "{\"state\":\"RESUMED\"}").statusCode()).isEqualTo(200);
        await().atMost(Duration.ofSeconds(5)).until(() -> kubernetes.successfulCreates() == before + 20);
        assertThat(http.getJson("/actuator/consumer").get("state").asText()).isEqualTo("RUNNING");
        assertThat(http.metric("argo_events_sensor_quota_blocked")).isZero();
        assertThat(http.metric("quotagate_blocked_seconds_total{application=\"quotagate\",reason=\"paused\"}")).isPositive();
    }

    @Test
    @Order(3)
    void anUnknownStateIsRefusedWithA400() {
        assertThat(new Http(port).postJson("/actuator/consumer", "{\"state\":\"SIDEWAYS\"}").statusCode()).isEqualTo(400);
    }
}
