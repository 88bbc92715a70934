package io.quotagate;

import java.time.Duration;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import java.util.concurrent.CountDownLatch;

import io.quotagate.trigger.Trigger;
import io.quotagate.trigger.TriggerResult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.context.TestConfiguration;
import org.springframework.context.annotation.Bean;
import org.springframework.context.annotation.Primary;
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
 * The original sensor's "stuck sensor": something hangs the fetch loop (here a trigger that never
 * returns, which no timeout ends). Liveness must go DOWN after the stall timeout so Kubernetes restarts
 * the pod instead of a human; readiness is about NATS and stays UP.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@AutoConfigureMetrics
class LivenessStallIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100);
    static final NatsServer nats = env.nats;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.stall-timeout", () -> "10s");
        registry.add("trigger.kubernetes.request-timeout", () -> "5s");
        registry.add("trigger.kubernetes.concurrency", () -> 1);
    }

    static final CountDownLatch release = new CountDownLatch(1);

    @TestConfiguration
    static class HangingTrigger {
        @Bean
        @Primary
        Trigger hangingTrigger() {
            return message -> {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                return TriggerResult.transientFailure(null, "released", "test over");
            };
        }
    }

    @AfterAll
    static void releaseTheLoop() {
        release.countDown();
    }

    @LocalServerPort
    int port;

    @Test
    void aHungCreateTurnsLivenessDownAfterTheStallTimeout() {
        Http http = new Http(port);
        assertThat(http.get("/actuator/health/liveness").statusCode()).isEqualTo(200);

        producer.publish(QuotaGateTestProperties.SUBJECT, 1);

        await().atMost(Duration.ofSeconds(30)).until(() -> http.get("/actuator/health/liveness").statusCode() == 503);
        JsonNode consumer = http.getJson("/actuator/health").get("components").get("consumer");
        assertThat(consumer.get("status").asText()).isEqualTo("DOWN");
        assertThat(consumer.get("details").get("stalled").asBoolean()).isTrue();
        assertThat(http.metric("quotagate_consumer_stalled")).isEqualTo(1.0);
        assertThat(http.get("/actuator/health/readiness").statusCode()).as("NATS is fine").isEqualTo(200);
    }
}
