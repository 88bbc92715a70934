package io.quotagate.quota;

import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ResourceQuotaBuilder;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.gate.GateState;
import io.quotagate.gate.LimitState;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.kubernetes.KubernetesApiEmulationExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.groups.Tuple.tuple;
import static org.awaitility.Awaitility.await;

/**
 * An empty {@code backpressure.resource-name}: every resource the template's object is charged is a limit, on every
 * quota that applies to it. Pods of 500m cpu against a count quota and a cpu quota; a configmaps quota and a
 * BestEffort-scoped quota do not apply to them.
 */
@ExtendWith(KubernetesApiEmulationExtension.class)
class QuotaMonitorEveryResourceTest {

    static final String NS = "batch";
    static final GenericKubernetesResource POD = Serialization.unmarshal("""
            apiVersion: v1
            kind: Pod
            metadata: {generateName: work-}
            spec:
              restartPolicy: Never
              containers:
              - name: main
                image: busybox
                resources: {requests: {cpu: 500m, memory: 64Mi}, limits: {cpu: 500m, memory: 64Mi}}
            """, GenericKubernetesResource.class);

    private QuotaMonitor monitor;

    @AfterEach
    void stop() {
        if (monitor != null) {
            monitor.stop();
        }
    }

    @Test
    void requestsCpuBindsBeforeTheCountAndQuotasThatDoNotApplyAreIgnored(KubernetesApiEmulation kubernetes) {
        kubernetes.createQuota(new ResourceQuotaBuilder().withNewMetadata().withName("compute").withNamespace(NS)
                .endMetadata().withNewSpec().addToHard("count/pods", new Quantity("10"))
                .addToHard("requests.cpu", new Quantity("2")).endSpec().build());
        kubernetes.createQuota(NS, "configmaps", "count/configmaps", 1);
        kubernetes.createQuota(new ResourceQuotaBuilder().withNewMetadata().withName("best-effort").withNamespace(NS)
                .endMetadata().withNewSpec().addToHard("pods", new Quantity("1")).withScopes("BestEffort").endSpec()
                .build());
        Map<String, Object> map = new HashMap<>();
        map.put("backpressure.quota-names[0]", "*");
        map.put("backpressure.resource-name", "");
        map.put("backpressure.capacity-ratio", "1.0");
        BackpressureProperties p = new Binder(new MapConfigurationPropertySource(map))
                .bindOrCreate("backpressure", Bindable.of(BackpressureProperties.class));
        CapacityGate gate = new CapacityGate(p.gateEnabled(), 1.0, FailMode.CLOSED, Clock.systemUTC());
        monitor = new QuotaMonitor(kubernetes.client(), p, NS, gate, () -> TemplateCharge.of(POD, "pods", ""));
        monitor.start();

        await().atMost(Duration.ofSeconds(10)).until(() -> gate.sources().size() == 3 && !gate.state().blocked());
        GateState s = gate.state();
        assertThat(s.limits()).extracting(LimitState::source, LimitState::resource, LimitState::cost)
                .containsExactlyInAnyOrder(tuple("compute", "count/pods", 1L), tuple("compute", "requests.cpu", 500L));
        assertThat(s.headroom()).as("2 cores / 500m").isEqualTo(4);
        assertThat(s.limitedByResource()).isEqualTo("requests.cpu");
        assertThat(s.threshold()).as("in milli-units").isEqualTo(2000);
    }

    @Test
    void templateChargeKeepsCpuInMilliUnits() {
        TemplateCharge c = TemplateCharge.of(POD, "pods", "");
        assertThat(c.units()).containsEntry("requests.cpu", 500L).containsEntry("limits.cpu", 500L)
                .containsEntry("count/pods", 1L).containsEntry("pods", 1L)
                .containsEntry("requests.memory", 64L * 1024 * 1024);
    }
}
