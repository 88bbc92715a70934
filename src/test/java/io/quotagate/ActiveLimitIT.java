package io.quotagate;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.quotagate.active.ActiveMonitor;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.LimitState;
import io.quotagate.reliability.Audit;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.trigger.ConsumerLabel;
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
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code backpressure.active.max-objects: 5} with a count quota far away (100,000), at capacity-ratio 1.0: workflows
 * finish in batches without being deleted (as Argo finishes them; their TTL would delete them much later), so the
 * count quota never binds and the active limit must. Never more than 5 unfinished workflows at any observation, the
 * consumer resumes as they finish, no create is refused, every message becomes exactly one object.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
class ActiveLimitIT {

    static final int MAX = 5;
    static final int MESSAGES = 240;

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("backpressure.active.max-objects", () -> MAX);
        registry.add("trigger.kubernetes.concurrency", () -> 8);
    }

    @Autowired
    CapacityGate gate;

    @LocalServerPort
    int port;

    static boolean unfinished(GenericKubernetesResource w) {
        Map<String, String> labels = w.getMetadata().getLabels();
        return labels == null || !"true".equals(labels.get("workflows.argoproj.io/completed"));
    }

    static int unfinishedNow() {
        return (int) kubernetes.objects(NAMESPACE, "Workflow").stream().filter(ActiveLimitIT::unfinished).count();
    }

    @Test
    void neverMoreThanTheLimitUnfinishedAndResumesAsTheyFinish() throws Exception {
        await().atMost(Duration.ofSeconds(20)).until(() -> gate.state().limits().stream()
                .anyMatch(l -> l.source().equals(ActiveMonitor.SOURCE)));
        LimitState active = gate.state().limits().stream().filter(l -> l.source().equals(ActiveMonitor.SOURCE))
                .findFirst().orElseThrow();
        assertThat(active.resource()).isEqualTo("count");
        assertThat(active.hard()).isEqualTo(MAX);
        assertThat(gate.state().limitedBySource()).isEqualTo(ActiveMonitor.SOURCE);
        Http http = new Http(port);
        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.get("limitedBy").get("source").asString()).isEqualTo(ActiveMonitor.SOURCE);
        assertThat(quota.get("limits").size()).isEqualTo(2);
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(http.metric(
                "quotagate_limit_hard{application=\"quotagate\",resource=\"count\",source=\"(active)\"}"))
                .isEqualTo((double) MAX));
        JsonNode health = http.getJson("/actuator/health/quota");
        assertThat(health.get("details").get("active").get("synced").asBoolean()).isTrue();

        // Observe the namespace every 2 ms; whenever the limit is reached, finish 3 workflows (oldest first) without
        // deleting them, as Argo does; their TTL would delete them much later.
        AtomicInteger maxUnfinished = new AtomicInteger();
        AtomicInteger observations = new AtomicInteger();
        ScheduledExecutorService observers = Executors.newScheduledThreadPool(2);
        observers.scheduleWithFixedDelay(() -> {
            maxUnfinished.accumulateAndGet(unfinishedNow(), Math::max);
            observations.incrementAndGet();
        }, 0, 2, TimeUnit.MILLISECONDS);
        observers.scheduleWithFixedDelay(() -> {
            if (unfinishedNow() >= MAX) {
                kubernetes.finishOldestWorkflows(NAMESPACE, 3, "Succeeded");
            }
        }, 0, 30, TimeUnit.MILLISECONDS);

        Audit audit = new Audit("active-limit", producer, kubernetes, QuotaGateTestProperties.STREAM, null);
        List<Long> published = audit.publishJson(QuotaGateTestProperties.SUBJECT, MESSAGES);
        try {
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250))
                    .until(() -> audit.objects().keySet().containsAll(published));
            env.awaitDrained(Duration.ofSeconds(10));
        } finally {
            observers.shutdownNow();
            observers.awaitTermination(10, TimeUnit.SECONDS);
        }
        System.out.printf("[active limit] %d messages -> %d creates, %d x 403, max %d unfinished of %d over %d "
                        + "observations, %d workflows stored%n", published.size(), kubernetes.successfulCreates(),
                kubernetes.exceededQuotaRejections(), maxUnfinished.get(), MAX, observations.get(),
                kubernetes.objects(NAMESPACE, "Workflow").size());
        assertThat(maxUnfinished.get()).as("unfinished workflows at any observation").isLessThanOrEqualTo(MAX);
        assertThat(maxUnfinished.get()).as("the limit was reached").isEqualTo(MAX);
        assertThat(kubernetes.objects(NAMESPACE, "Workflow")).as("finished, never deleted").hasSize(MESSAGES);
        assertThat(kubernetes.objects(NAMESPACE, "Workflow")).allSatisfy(w -> assertThat(w.getMetadata().getLabels())
                .containsEntry(ConsumerLabel.KEY, "quotagate")
                .containsEntry("app.kubernetes.io/managed-by", "quotagate"));
        assertThat(kubernetes.exceededQuotaRejections()).as("403 exceeded quota").isZero();
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
