package io.quotagate;

import java.time.Duration;
import java.util.List;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
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
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * {@code backpressure.active.selector: workflows.argoproj.io/completed!=true} (argo-events #2451): every unfinished
 * workflow in the namespace counts, also those QuotaGate did not create. With 4 of someone else's running and a limit
 * of 6, QuotaGate starts 2, and more only as any workflow finishes.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
@DirtiesContext
class ActiveSelectorIT {

    static final ResourceDefinitionContext WORKFLOWS = new ResourceDefinitionContext.Builder()
            .withGroup("argoproj.io").withVersion("v1alpha1").withKind("Workflow").withPlural("workflows")
            .withNamespaced(true).build();

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        for (int i = 0; i < 4; i++) {
            GenericKubernetesResource w = new GenericKubernetesResourceBuilder()
                    .withApiVersion("argoproj.io/v1alpha1").withKind("Workflow")
                    .withNewMetadata().withName("someone-elses-" + i).endMetadata()
                    .addToAdditionalProperties("spec", java.util.Map.of("entrypoint", "main")).build();
            kubernetes.client().genericKubernetesResources(WORKFLOWS).inNamespace(NAMESPACE).resource(w).create();
        }
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("backpressure.active.max-objects", () -> 6);
        registry.add("backpressure.active.selector", () -> "workflows.argoproj.io/completed!=true");
    }

    @Autowired
    CapacityGate gate;

    static long unfinished() {
        return kubernetes.objects(NAMESPACE, "Workflow").stream().filter(ActiveLimitIT::unfinished).count();
    }

    @Test
    void workflowsQuotaGateDidNotCreateCountToo() {
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> assertThat(gate.state().limits())
                .filteredOn(l -> l.source().equals(ActiveMonitor.SOURCE)).extracting(LimitState::used)
                .containsExactly(4L));
        Audit audit = new Audit("active-selector", producer, kubernetes, QuotaGateTestProperties.STREAM, null);
        List<Long> published = audit.publishJson(QuotaGateTestProperties.SUBJECT, 20);

        await().atMost(Duration.ofSeconds(20)).until(() -> audit.objects().size() == 2);
        await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(5))
                .untilAsserted(() -> assertThat(audit.objects()).as("6 unfinished: 4 theirs, 2 ours").hasSize(2));
        assertThat(unfinished()).isEqualTo(6);

        // Theirs finish (not deleted): four more of ours start, and the rest as ours finish.
        kubernetes.finishOldestWorkflows(NAMESPACE, 4, "Succeeded");
        await().atMost(Duration.ofSeconds(20)).until(() -> audit.objects().size() == 6);
        assertThat(unfinished()).isLessThanOrEqualTo(6);
        while (!audit.objects().keySet().containsAll(published)) {
            kubernetes.finishOldestWorkflows(NAMESPACE, 2, "Failed");
            await().atMost(Duration.ofSeconds(20)).until(() -> unfinished() == 6
                    || audit.objects().keySet().containsAll(published));
        }
        env.awaitDrained(Duration.ofSeconds(10));
        assertThat(kubernetes.exceededQuotaRejections()).isZero();
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
