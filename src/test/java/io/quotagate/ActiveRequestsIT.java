package io.quotagate;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.micrometer.core.instrument.MeterRegistry;
import io.quotagate.active.ActiveMonitor;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.LimitState;
import io.quotagate.reliability.Audit;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code backpressure.active.max-requests: {cpu: "4"}} where the template declares no requests and each message fills
 * the annotation {@code quotagate.io/requests} through a parameter: most workflows declare 1 core, every fourth 3. The
 * template costs 0 of the limit, so only the per-message charge before each create keeps the sum of the unfinished
 * workflows' declared cpu within 4 cores; a dear one waits in JetStream ({@code requeued}) until its 3 cores fit.
 * Workflows finish without being deleted, as Argo finishes them.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
class ActiveRequestsIT {

    static final long MAX_MILLI = 4000;
    static final int MESSAGES = 120;

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("backpressure.active.max-requests.cpu", () -> "4");
        registry.add("trigger.kubernetes.parameters[1].src.data-key", () -> "requests");
        registry.add("trigger.kubernetes.parameters[1].src.value", () -> "cpu=1");
        registry.add("trigger.kubernetes.parameters[1].dest", () -> "metadata.annotations.quotagate\\.io/requests");
        registry.add("trigger.kubernetes.concurrency", () -> 8);
        registry.add("jetstream.quota-rejected-delay", () -> "200ms");
    }

    @Autowired
    CapacityGate gate;

    @Autowired
    MeterRegistry registry;

    static long declaredMilli(GenericKubernetesResource w) {
        Map<String, String> labels = w.getMetadata().getLabels();
        if (labels != null && "true".equals(labels.get("workflows.argoproj.io/completed"))) {
            return 0;
        }
        Map<String, String> annotations = w.getMetadata().getAnnotations();
        String declared = annotations == null ? null : annotations.get("quotagate.io/requests");
        return declared == null ? 0 : Long.parseLong(declared.substring("cpu=".length())) * 1000;
    }

    static long unfinishedCpuNow() {
        return kubernetes.objects(NAMESPACE, "Workflow").stream().mapToLong(ActiveRequestsIT::declaredMilli).sum();
    }

    @Test
    void theSumOfUnfinishedDeclaredCpuStaysWithinTheLimitWhateverEachMessageDeclares() throws Exception {
        await().atMost(Duration.ofSeconds(20)).until(() -> gate.state().limits().stream()
                .anyMatch(l -> l.source().equals(ActiveMonitor.SOURCE)) && !gate.state().blocked());
        LimitState cpu = gate.state().limits().stream().filter(l -> l.source().equals(ActiveMonitor.SOURCE))
                .findFirst().orElseThrow();
        assertThat(cpu.resource()).isEqualTo("requests.cpu");
        assertThat(cpu.hard()).isEqualTo(MAX_MILLI);
        assertThat(cpu.cost()).as("the template declares nothing: only each message's own charge limits").isZero();

        AtomicInteger observations = new AtomicInteger();
        long[] maxMilli = {0};
        ScheduledExecutorService observers = Executors.newScheduledThreadPool(2);
        observers.scheduleWithFixedDelay(() -> {
            long now = unfinishedCpuNow();
            synchronized (maxMilli) {
                maxMilli[0] = Math.max(maxMilli[0], now);
            }
            observations.incrementAndGet();
        }, 0, 2, TimeUnit.MILLISECONDS);
        observers.scheduleWithFixedDelay(() -> kubernetes.finishOldestWorkflows(NAMESPACE, 2, "Succeeded"),
                50, 50, TimeUnit.MILLISECONDS);

        Audit audit = new Audit("active-requests", producer, kubernetes, QuotaGateTestProperties.STREAM, null);
        List<Long> published = new ArrayList<>();
        for (int i = 0; i < MESSAGES; i++) {
            String requests = i % 4 == 3 ? "cpu=3" : "cpu=1";
            published.add(audit.publish(QuotaGateTestProperties.SUBJECT, ("{\"message\":\"active-requests-" + i
                    + "\",\"requests\":\"" + requests + "\"}").getBytes(StandardCharsets.UTF_8)));
        }
        try {
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250))
                    .until(() -> audit.objects().keySet().containsAll(published));
            env.awaitDrained(Duration.ofSeconds(10));
        } finally {
            observers.shutdownNow();
            observers.awaitTermination(10, TimeUnit.SECONDS);
        }
        double requeued = registry.counter("quotagate.messages", "outcome", "requeued").count();
        long dear = kubernetes.objects(NAMESPACE, "Workflow").stream().filter(w -> "cpu=3".equals(
                w.getMetadata().getAnnotations().get("quotagate.io/requests"))).count();
        System.out.printf("[active requests] %d messages -> %d creates (%d of 3 cores), %d x 403, %.0f requeued, max "
                        + "%dm unfinished cpu of %dm over %d observations%n", published.size(),
                kubernetes.successfulCreates(), dear, kubernetes.exceededQuotaRejections(), requeued, maxMilli[0],
                MAX_MILLI, observations.get());
        assertThat(maxMilli[0]).as("declared cpu of unfinished workflows at any observation")
                .isLessThanOrEqualTo(MAX_MILLI).isGreaterThanOrEqualTo(3000);
        assertThat(dear).as("the dear workflows ran too").isEqualTo(MESSAGES / 4);
        // Fetches are sized by the last admitted message's cpu, so a full limit fetches nothing only to send it back
        // (sized by the template's 0 instead, this run requeued some 1,100 times).
        assertThat(requeued).as("messages fetched and sent back for room").isLessThan(MESSAGES * 4);
        assertThat(kubernetes.exceededQuotaRejections()).as("403 exceeded quota").isZero();
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
