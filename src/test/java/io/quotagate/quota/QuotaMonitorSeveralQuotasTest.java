package io.quotagate.quota;

import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

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
import static org.awaitility.Awaitility.await;

/** {@code backpressure.quota-names}: several quotas read and watched, each a limit of the gate. */
@ExtendWith(KubernetesApiEmulationExtension.class)
class QuotaMonitorSeveralQuotasTest {

    static final String NS = "argo";
    static final String RESOURCE = "count/workflows.argoproj.io";

    private QuotaMonitor monitor;

    @AfterEach
    void stop() {
        if (monitor != null) {
            monitor.stop();
        }
    }

    private CapacityGate start(KubernetesApiEmulation kubernetes, String quotaName, String... quotaNames) {
        Map<String, Object> map = new HashMap<>();
        map.put("backpressure.quota-name", quotaName);
        map.put("backpressure.resource-name", RESOURCE);
        map.put("backpressure.capacity-ratio", "1.0");
        for (int i = 0; i < quotaNames.length; i++) {
            map.put("backpressure.quota-names[" + i + "]", quotaNames[i]);
        }
        BackpressureProperties p = new Binder(new MapConfigurationPropertySource(map))
                .bindOrCreate("backpressure", Bindable.of(BackpressureProperties.class));
        CapacityGate gate = new CapacityGate(p.gateEnabled(), 1.0, FailMode.CLOSED, Clock.systemUTC());
        monitor = new QuotaMonitor(kubernetes.client(), p, NS, gate);
        monitor.start();
        return gate;
    }

    @Test
    void theTighterOfTwoNamedQuotasBinds(KubernetesApiEmulation kubernetes) {
        kubernetes.createQuota(NS, "namespace-wide", RESOURCE, 10);
        kubernetes.createQuota(NS, "team", RESOURCE, 3);
        CapacityGate gate = start(kubernetes, "namespace-wide", "team");

        await().atMost(Duration.ofSeconds(10)).until(() -> gate.state().limits().size() == 2 && !gate.state().blocked());
        GateState s = gate.state();
        assertThat(s.headroom()).isEqualTo(3);
        assertThat(s.limitedBySource()).isEqualTo("team");
        assertThat(s.hard()).isEqualTo(3);
        assertThat(s.limits()).extracting(LimitState::source).containsExactly("namespace-wide", "team");
        await().atMost(Duration.ofSeconds(10)).until(monitor::watching);
    }

    @Test
    void aNamedQuotaThatDoesNotExistIsAConfigurationError(KubernetesApiEmulation kubernetes) {
        kubernetes.createQuota(NS, "namespace-wide", RESOURCE, 10);
        CapacityGate gate = start(kubernetes, "namespace-wide", "missing");

        await().atMost(Duration.ofSeconds(10)).until(() -> gate.state().lastError() != null);
        GateState s = gate.state();
        assertThat(s.blocked()).isTrue();
        assertThat(s.configurationError()).isTrue();
        assertThat(s.lastError()).contains(NS + "/missing", "backpressure.quota-names");
    }

    @Test
    void quotaNamesAloneTurnTheGateOn(KubernetesApiEmulation kubernetes) {
        kubernetes.createQuota(NS, "team", RESOURCE, 4);
        CapacityGate gate = start(kubernetes, "", "team");

        assertThat(gate.enabled()).isTrue();
        await().atMost(Duration.ofSeconds(10)).until(() -> gate.state().headroom() == 4);
    }

    @Test
    void everyQuotaFollowsQuotasCreatedAndDeletedAndIgnoresUnrelatedOnes(KubernetesApiEmulation kubernetes) {
        kubernetes.createQuota(NS, "workflows", RESOURCE, 5);
        kubernetes.createQuota(NS, "configmaps", "count/configmaps", 1);
        CapacityGate gate = start(kubernetes, "", "*");

        await().atMost(Duration.ofSeconds(10)).until(() -> gate.state().headroom() == 5 && monitor.watching());
        assertThat(gate.sources()).containsExactlyInAnyOrder("workflows", "configmaps");
        assertThat(gate.state().limits()).extracting(LimitState::source).containsExactly("workflows");

        kubernetes.createQuota(NS, "tight", RESOURCE, 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> gate.state().headroom() == 2);
        assertThat(gate.state().limitedBySource()).isEqualTo("tight");

        kubernetes.client().resourceQuotas().inNamespace(NS).withName("tight").delete();
        await().atMost(Duration.ofSeconds(10)).until(() -> gate.state().headroom() == 5);
        assertThat(gate.sources()).doesNotContain("tight");
        assertThat(List.copyOf(gate.state().limits())).hasSize(1);
    }

    @Test
    void everyQuotaInANamespaceWithoutQuotasIsAConfigurationError(KubernetesApiEmulation kubernetes) {
        CapacityGate gate = start(kubernetes, "", "*");

        await().atMost(Duration.ofSeconds(10)).until(() -> gate.state().lastError() != null);
        assertThat(gate.state().blocked()).isTrue();
        assertThat(gate.state().lastError()).contains("no ResourceQuota in namespace " + NS);
    }
}
