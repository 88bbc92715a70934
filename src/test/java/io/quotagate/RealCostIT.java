package io.quotagate;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.micrometer.core.instrument.MeterRegistry;
import io.quotagate.gate.CapacityGate;
import io.quotagate.reliability.Audit;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A message's real cost: Pods whose cpu request is a parameter (the template asks 100m; most messages keep it, every
 * tenth asks 1500m) against a quota of 2 cores of requests.cpu, at capacity-ratio 1.0. Permits are sized from the
 * template's 100m, so up to 20 pods are let through at once; a 1500m pod is charged its real cost before its create
 * and, when that no longer fits, goes back to JetStream without spending a create attempt. No create is refused, the
 * quota is never exceeded, and every message becomes exactly one Pod, the dear ones included.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
@DirtiesContext
class RealCostIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(1_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        kubernetes.createQuota(new ResourceQuotaBuilder().withNewMetadata().withName("compute")
                .withNamespace(NAMESPACE).endMetadata().withNewSpec().addToHard("count/pods", new Quantity("50"))
                .addToHard("requests.cpu", new Quantity("2")).endSpec().build());
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
        kubernetes.completeAutomatically("Pod", Duration.ofMillis(50), Duration.ofMillis(300));
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("backpressure.quota-names[0]", () -> "*");
        registry.add("backpressure.resource-name", () -> "");
        registry.add("trigger.kubernetes.template", () -> "classpath:templates/pod-cpu-parameter.yaml");
        registry.add("trigger.kubernetes.parameters[0].dest", () -> "metadata.annotations.message");
        registry.add("trigger.kubernetes.parameters[1].src.data-key", () -> "cpu");
        registry.add("trigger.kubernetes.parameters[1].src.value", () -> "100m");
        registry.add("trigger.kubernetes.parameters[1].dest", () -> "spec.containers.0.resources.requests.cpu");
        registry.add("trigger.kubernetes.concurrency", () -> 4);
        registry.add("jetstream.quota-rejected-delay", () -> "300ms");
        registry.add("jetstream.max-deliver", () -> 3);
    }

    @Autowired
    CapacityGate gate;

    @Autowired
    MeterRegistry registry;

    @Test
    void dearMessagesWaitForRoomWithoutAnyCreateRefusedOrAnyMessageLost() {
        await().atMost(Duration.ofSeconds(20)).until(() -> gate.sources().contains("compute") && !gate.state().blocked());
        assertThat(gate.state().limitedByResource()).isEqualTo("requests.cpu");
        assertThat(gate.state().headroom()).as("2 cores / the template's 100m").isEqualTo(20);

        Audit audit = new Audit("real-cost", producer, kubernetes, QuotaGateTestProperties.STREAM, null);
        List<Long> published = new ArrayList<>();
        for (int i = 0; i < 100; i++) {
            String cpu = i % 10 == 9 ? "1500m" : "100m";
            published.add(audit.publish(QuotaGateTestProperties.SUBJECT,
                    ("{\"message\":\"real-cost-" + i + "\",\"cpu\":\"" + cpu + "\"}").getBytes(StandardCharsets.UTF_8)));
        }

        long[] lastPrint = {System.nanoTime()};
        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(250))
                .until(() -> {
                    if (System.nanoTime() - lastPrint[0] > 5_000_000_000L) {
                        lastPrint[0] = System.nanoTime();
                        System.out.printf("[real cost] objects %d, requeued %.0f, headroom %d%n", audit.objects().size(),
                                registry.counter("quotagate.messages", "outcome", "requeued").count(),
                                gate.state().headroom());
                    }
                    return audit.objects().keySet().containsAll(published);
                });
        env.awaitDrained(Duration.ofSeconds(10));
        double requeued = registry.counter("quotagate.messages", "outcome", "requeued").count();
        long maxCpu = kubernetes.maxUsedAmount(NAMESPACE, "compute", "requests.cpu").movePointRight(3)
                .setScale(0, java.math.RoundingMode.CEILING).longValue();
        System.out.printf("[real cost] %d messages -> %d creates, %d x 403, %.0f requeued for room, max requests.cpu "
                + "%dm of 2000m%n", published.size(), kubernetes.successfulCreates(),
                kubernetes.exceededQuotaRejections(), requeued, maxCpu);
        assertThat(kubernetes.exceededQuotaRejections()).as("403 exceeded quota").isZero();
        assertThat(maxCpu).as("requests.cpu never over the quota").isLessThanOrEqualTo(2000)
                .as("the dear pods ran too").isGreaterThanOrEqualTo(1500);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
