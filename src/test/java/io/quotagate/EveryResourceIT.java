package io.quotagate;

import java.time.Duration;
import java.util.List;

import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
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
 * An empty {@code resource-name} with Pods of 500m cpu: a quota of 20 pods and 2 cores, a configmaps quota, and a
 * BestEffort-scoped quota of 1 pod that cannot match them. requests.cpu binds first (4 pods), the other quotas block
 * nothing, no create is refused and every message becomes exactly one Pod.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
@DirtiesContext
class EveryResourceIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(1_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        kubernetes.createQuota(new ResourceQuotaBuilder().withNewMetadata().withName("compute")
                .withNamespace(NAMESPACE).endMetadata().withNewSpec().addToHard("count/pods", new Quantity("20"))
                .addToHard("requests.cpu", new Quantity("2")).endSpec().build());
        kubernetes.createQuota(NAMESPACE, "configmaps", "count/configmaps", 1);
        kubernetes.createQuota(new ResourceQuotaBuilder().withNewMetadata().withName("best-effort")
                .withNamespace(NAMESPACE).endMetadata().withNewSpec().addToHard("pods", new Quantity("1"))
                .withScopes("BestEffort").endSpec().build());
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
        kubernetes.completeAutomatically("Pod", Duration.ofMillis(20), Duration.ofMillis(200));
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("backpressure.quota-names[0]", () -> "*");
        registry.add("backpressure.resource-name", () -> "");
        registry.add("trigger.kubernetes.template", () -> "classpath:templates/pod.yaml");
        registry.add("trigger.kubernetes.parameters[0].dest", () -> "metadata.annotations.message");
        registry.add("trigger.kubernetes.concurrency", () -> 4);
    }

    @Autowired
    CapacityGate gate;

    @Test
    void requestsCpuBindsFirstAndQuotasThatDoNotApplyBlockNothing() {
        await().atMost(Duration.ofSeconds(20)).until(() -> gate.sources().size() == 4 && !gate.state().blocked());
        assertThat(gate.state().limitedByResource()).isEqualTo("requests.cpu");
        assertThat(gate.state().headroom()).as("2 cores / 500m").isEqualTo(4);

        Audit audit = new Audit("every-resource", producer, kubernetes, QuotaGateTestProperties.STREAM, null);
        List<Long> published = audit.publishJson(QuotaGateTestProperties.SUBJECT, 100);

        await().atMost(Duration.ofMinutes(2)).pollInterval(Duration.ofMillis(250))
                .until(() -> audit.objects().keySet().containsAll(published));
        env.awaitDrained(Duration.ofSeconds(10));
        System.out.printf("[every resource] %d messages -> %d creates, %d x 403, max requests.cpu %d of 2 cores%n",
                published.size(), kubernetes.successfulCreates(), kubernetes.exceededQuotaRejections(),
                kubernetes.maxUsed(NAMESPACE, "compute", "requests.cpu"));
        assertThat(kubernetes.exceededQuotaRejections()).as("403 exceeded quota").isZero();
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
