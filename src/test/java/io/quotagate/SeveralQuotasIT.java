package io.quotagate;

import java.time.Duration;
import java.util.List;

import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.LimitState;
import io.quotagate.reliability.Audit;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code quota-names: ["*"]} in a namespace with three quotas: the configured one (60 workflows), a tighter one on the
 * same resource (8 workflows) and one on configmaps that a Workflow does not charge. At capacity-ratio 1.0, with
 * workflows completing at random, the tighter quota binds, the configmaps quota blocks nothing, no create is refused
 * and every message becomes exactly one object.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
class SeveralQuotasIT {

    static final String TIGHT = "team";

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(60);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        kubernetes.createQuota(NAMESPACE, TIGHT, RESOURCE, 8);
        kubernetes.createQuota(NAMESPACE, "configmaps", "count/configmaps", 1);
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
        kubernetes.completeAutomatically("Workflow", Duration.ofMillis(20), Duration.ofMillis(200));
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("backpressure.quota-names[0]", () -> "*");
        registry.add("trigger.kubernetes.concurrency", () -> 8);
    }

    @Autowired
    CapacityGate gate;

    @LocalServerPort
    int port;

    @Test
    void theTighterQuotaBindsAndTheUnrelatedOneDoesNotBlock() {
        await().atMost(Duration.ofSeconds(20)).until(() -> gate.state().limits().size() == 2);
        assertThat(gate.sources()).containsExactlyInAnyOrder(QUOTA, TIGHT, "configmaps");
        assertThat(gate.state().limits()).extracting(LimitState::source).containsExactlyInAnyOrder(QUOTA, TIGHT);
        assertThat(gate.state().limitedBySource()).isEqualTo(TIGHT);
        assertThat(gate.state().headroom()).isEqualTo(8);
        Http http = new Http(port);
        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.get("limitedBy").get("source").asString()).isEqualTo(TIGHT);
        assertThat(quota.get("quotaName").asString()).as("the single-limit fields describe the binding limit").isEqualTo(TIGHT);
        assertThat(quota.get("hard").asLong()).isEqualTo(8);
        assertThat(quota.get("limits").size()).isEqualTo(2);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(http.metric("quotagate_limit_headroom{application=\"quotagate\",resource=\"" + RESOURCE
                    + "\",source=\"" + TIGHT + "\"}")).isEqualTo(8.0);
            assertThat(http.metric("quotagate_limit_hard{application=\"quotagate\",resource=\"" + RESOURCE
                    + "\",source=\"" + QUOTA + "\"}")).isEqualTo(60.0);
            assertThat(http.metric("quotagate_quota_hard")).as("the unlabelled series: the binding limit").isEqualTo(8.0);
        });

        Audit audit = new Audit("several-quotas", producer, kubernetes, QuotaGateTestProperties.STREAM, null);
        List<Long> published = audit.publishJson(QuotaGateTestProperties.SUBJECT, 300);

        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(250))
                .until(() -> audit.objects().keySet().containsAll(published));
        env.awaitDrained(Duration.ofSeconds(10));
        System.out.printf("[several quotas] %d messages -> %d creates, %d x 403, max used %d of 8 (%s), %d of 60%n",
                published.size(), kubernetes.successfulCreates(), kubernetes.exceededQuotaRejections(),
                kubernetes.maxUsed(NAMESPACE, TIGHT, RESOURCE), TIGHT, kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE));
        assertThat(kubernetes.exceededQuotaRejections()).as("403 exceeded quota").isZero();
        assertThat(kubernetes.maxUsed(NAMESPACE, TIGHT, RESOURCE)).as("the tighter quota").isLessThanOrEqualTo(8);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
