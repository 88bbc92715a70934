package io.quotagate.quota;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
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
 * While a whole batch fits, watch events from our own creates do not each cost a GET: they are read once, when the
 * fetch loop next asks for permits. When the gate is closed an event is read at once (resume latency).
 */
@ExtendWith(KubernetesApiEmulationExtension.class)
class QuotaMonitorReadCoalescingTest {

    static final String NS = "argo";
    static final String QUOTA = "workflow-quota";
    static final String RESOURCE = "count/workflows.argoproj.io";
    static final ResourceDefinitionContext WORKFLOWS = new ResourceDefinitionContext.Builder()
            .withGroup("argoproj.io").withVersion("v1alpha1").withKind("Workflow").withPlural("workflows")
            .withNamespaced(true).build();

    private QuotaMonitor monitor;

    @AfterEach
    void stop() {
        if (monitor != null) {
            monitor.stop();
        }
    }

    private CapacityGate start(KubernetesApiEmulation kubernetes, long hard, int existing) {
        kubernetes.createQuota(NS, QUOTA, RESOURCE, hard);
        KubernetesClient client = kubernetes.client();
        for (int i = 0; i < existing; i++) {
            create(client, "existing-" + i);
        }
        kubernetes.setQuotaControllerLag(Duration.ZERO);
        Map<String, Object> map = new HashMap<>();
        map.put("backpressure.quota-name", QUOTA);
        map.put("backpressure.resource-name", RESOURCE);
        map.put("backpressure.capacity-ratio", "1.0");
        map.put("backpressure.poll-interval", "30s");
        BackpressureProperties p = new Binder(new MapConfigurationPropertySource(map))
                .bindOrCreate("backpressure", Bindable.of(BackpressureProperties.class));
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        monitor = new QuotaMonitor(kubernetes.client(), p, NS, gate);
        monitor.start();
        await().atMost(Duration.ofSeconds(10))
                .until(() -> gate.state().hard() == hard && gate.state().used() == existing && monitor.watching());
        return gate;
    }

    private static void create(KubernetesClient client, String name) {
        client.genericKubernetesResources(WORKFLOWS).inNamespace(NS).resource(new GenericKubernetesResourceBuilder()
                .withApiVersion("argoproj.io/v1alpha1").withKind("Workflow").withNewMetadata().withName(name)
                .endMetadata().build()).create();
    }

    /** One fetch that finds nothing: it only gives the quota monitor its per-fetch chance to read. */
    private static void emptyFetch(CapacityGate gate) {
        gate.tryLease(64).close();
    }

    /** Waits until no quota read has happened for {@code quiet}: the reads a watch event may cause are over. */
    private static void awaitReadsSettle(KubernetesApiEmulation kubernetes, Duration quiet) {
        long[] last = {kubernetes.quotaReads()};
        await().during(quiet).atMost(Duration.ofSeconds(10)).until(() -> {
            long now = kubernetes.quotaReads();
            boolean same = now == last[0];
            last[0] = now;
            return same;
        });
    }

    @Test
    void eventsWhileAWholeBatchFitsAreReadOnceAtTheNextFetch(KubernetesApiEmulation kubernetes) {
        CapacityGate gate = start(kubernetes, 1_000, 0);
        KubernetesClient client = kubernetes.client();
        // The informer's initial ADDED event may still be pending: let one fetch read it, before counting.
        emptyFetch(gate);
        awaitReadsSettle(kubernetes, Duration.ofMillis(500));
        List<CapacityGate.Permit> permits = new ArrayList<>();
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(64);
            for (int i = 0; i < 20; i++) {
                permits.add(lease.take());
            }
        }
        // An event that arrived meanwhile is read at this lease, asynchronously: let that read land before counting.
        awaitReadsSettle(kubernetes, Duration.ofMillis(300));
        long reads0 = kubernetes.quotaReads();
        for (int i = 0; i < 20; i++) {
            create(client, "wf-" + i);
            permits.get(i).created();
        }
        // Give the watch time to deliver all 20 events; none of them may turn into a read by itself.
        await().pollDelay(Duration.ofMillis(500)).atMost(Duration.ofSeconds(5))
                .until(() -> kubernetes.used(NS, QUOTA, RESOURCE) == 20);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
                .until(() -> kubernetes.quotaReads() == reads0);
        assertThat(kubernetes.quotaReads() - reads0).as("reads without a fetch").isZero();

        emptyFetch(gate);
        await().atMost(Duration.ofSeconds(5)).until(() -> kubernetes.quotaReads() - reads0 == 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.state().used() == 20 && gate.state().createdUnobserved() == 0);
        emptyFetch(gate);
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(2))
                .until(() -> kubernetes.quotaReads() - reads0 == 1);
        assertThat(kubernetes.quotaReads() - reads0).as("no change, no read").isEqualTo(1);
    }

    @Test
    void aFreedUnitIsReadAtOnceWhileTheGateIsClosed(KubernetesApiEmulation kubernetes) {
        CapacityGate gate = start(kubernetes, 3, 3);
        assertThat(gate.state().blocked()).isTrue();
        kubernetes.deleteOldest(NS, "Workflow", 1);
        // No lease in between: only the watch event can have caused the read that reopens the gate.
        await().atMost(Duration.ofSeconds(5)).until(() -> !gate.state().blocked());
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(1);
        }
    }

    @Test
    void anExceededQuotaAnswerAsksForAReadThatReopensTheGate(KubernetesApiEmulation kubernetes) {
        CapacityGate gate = start(kubernetes, 10, 0);
        long reads0 = kubernetes.quotaReads();
        try (CapacityGate.Lease lease = gate.tryLease(1)) {
            // Another writer filled the quota meanwhile; the apiserver answered "exceeded quota".
            lease.take().quotaRejected();
        }
        assertThat(gate.state().blocked()).isTrue();
        // No lease in between: only the gate's refresh request can have caused the read that reopens it.
        await().atMost(Duration.ofSeconds(5)).until(() -> !gate.state().blocked());
        assertThat(kubernetes.quotaReads()).isGreaterThan(reads0);
    }
}
