package io.quotagate.reliability;

import java.time.Duration;
import java.util.List;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 17, case 2: a 403 that is not "exceeded quota" — a Role missing for a while during an upgrade, or the namespace
 * being terminated — is no verdict on the message. Without a dead-letter subject (the chart's default), every message
 * published meanwhile used to be terminated. Now the gate closes with reason {@code forbidden} (gauge 1,
 * {@code /api/quota} and health say why, in the apiserver's words), every message stays in JetStream, and the gate
 * reopens by itself once a dry-run create is allowed again.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
class ForbiddenIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("backpressure.forbidden-probe-interval", () -> "1s");
        registry.add("jetstream.quota-rejected-delay", () -> "500ms");
    }

    @LocalServerPort
    int port;

    @AfterEach
    void allowCreates() {
        kubernetes.clearCreateFailures();
    }

    @Test
    void anRbacDenialHoldsEveryMessageAndTheGateReopensByItself() {
        assertHeldThenCreated("rbac", () -> kubernetes.failCreates(403), "cannot create resource");
    }

    @Test
    void aTerminatingNamespaceHoldsEveryMessageAndTheGateReopensByItself() {
        assertHeldThenCreated("terminating", () -> kubernetes.failCreatesWithNamespaceTerminating(-1),
                "because it is being terminated");
    }

    private void assertHeldThenCreated(String name, Runnable deny, String apiserverWords) {
        Http http = new Http(port);
        Audit audit = new Audit(name, producer, kubernetes, STREAM, null);
        long createsBefore = kubernetes.successfulCreates();
        deny.run();
        List<Long> held = audit.publishJson(SUBJECT, 5);

        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            JsonNode quota = http.getJson("/api/quota");
            assertThat(quota.get("blockedReason").asText()).isEqualTo("forbidden");
            assertThat(quota.get("lastError").asText()).contains(apiserverWords);
            assertThat(Metrics.blocked(http)).isEqualTo(1.0);
            JsonNode health = http.getJson("/actuator/health");
            assertThat(health.get("components").get("quota").get("status").asText()).isEqualTo("DOWN");
        });
        // Held, not dropped: every message is still in JetStream, none was terminated or created.
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            var info = env.consumerInfo();
            assertThat(info.getNumPending() + info.getNumAckPending()).as("messages still in JetStream")
                    .isEqualTo(held.size());
            assertThat(kubernetes.successfulCreates()).isEqualTo(createsBefore);
        });
        assertThat(Metrics.outcome(http, "dead_lettered")).as("dead-lettered or terminated").isZero();

        kubernetes.clearCreateFailures();

        BadInputIT.awaitCreated(audit, held);
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode quota = http.getJson("/api/quota");
            assertThat(quota.get("blocked").asBoolean()).isFalse();
            assertThat(Metrics.blocked(http)).isZero();
        });
        assertThat(Metrics.sum(http, "quotagate_blocked_seconds_total", "reason=\"forbidden\"")).isPositive();
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
