package io.quotagate.quota;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import io.quotagate.gate.BlockedReason;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.gate.LimitReading;
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

/**
 * {@code quota-names: ["*"]} beside the active limit's source {@code "(active)"}: a list of the quotas neither forgets
 * that source (it is no quota that went away) nor fails it when the list fails, so the gate is known again as soon as
 * the quotas are readable, without waiting for the active limit's next reading.
 */
@ExtendWith(KubernetesApiEmulationExtension.class)
class QuotaMonitorBesideActiveLimitTest {

    static final String ACTIVE = "(active)";
    private QuotaMonitor monitor;

    @AfterEach
    void stop() {
        if (monitor != null) {
            monitor.stop();
        }
    }

    @Test
    void aListOfEveryQuotaLeavesTheActiveSourceAlone(KubernetesApiEmulation kubernetes) {
        kubernetes.createQuota("argo", "q", "count/workflows.argoproj.io", 50);
        BackpressureProperties p = new Binder(new MapConfigurationPropertySource(Map.of(
                "backpressure.quota-names[0]", "*", "backpressure.resource-name", "count/workflows.argoproj.io",
                "backpressure.active.max-objects", "3")))
                .bindOrCreate("backpressure", Bindable.of(BackpressureProperties.class));
        CapacityGate gate = new CapacityGate(p.gateEnabled(), 1.0, FailMode.CLOSED, Clock.systemUTC());
        gate.apply(gate.beginRead(), ACTIVE, List.of(new LimitReading("count", 3, 1, 1)));
        monitor = new QuotaMonitor(kubernetes.client(), p, "argo", gate);
        monitor.start();

        await().atMost(Duration.ofSeconds(10)).until(() -> gate.sources().contains("q") && !gate.state().blocked());
        monitor.requestRead();
        await().atMost(Duration.ofSeconds(10)).until(() -> monitor.readsOk() >= 2);
        assertThat(gate.sources()).containsExactly(ACTIVE, "q");
        assertThat(gate.state().limitedBySource()).isEqualTo(ACTIVE);

        kubernetes.failQuotaReads(500);
        monitor.requestRead();
        await().atMost(Duration.ofSeconds(10)).until(() -> gate.state().blockedFor(BlockedReason.QUOTA_UNKNOWN));
        kubernetes.restoreQuotaReads();
        await().atMost(Duration.ofSeconds(20)).untilAsserted(() -> {
            assertThat(gate.state().blocked()).as("known again without a new active reading").isFalse();
            assertThat(gate.state().limits()).extracting(LimitState::source).containsExactlyInAnyOrder(ACTIVE, "q");
        });
    }
}
