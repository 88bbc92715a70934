package io.quotagate.quota;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.quotagate.gate.BlockedReason;
import io.quotagate.gate.CapacityGate;
import io.quotagate.gate.FailMode;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.kubernetes.KubernetesApiEmulationExtension;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Quota reads at the edge (issue 18): while the gate is full or near-full, watch events are read no sooner than a
 * spacing after the previous read started, the spacing following the rate of freed slots; reads that make the gate
 * usable again (after a 403, with the quota unknown, while paused) are never spaced. Against the Kubernetes API
 * emulation (quota admission, watches, the quota controller).
 */
@ExtendWith(KubernetesApiEmulationExtension.class)
class QuotaMonitorEdgeReadsTest {

    static final String NS = "argo";
    static final String QUOTA = "workflow-quota";
    static final String RESOURCE = "count/workflows.argoproj.io";
    static final ResourceDefinitionContext WORKFLOWS = new ResourceDefinitionContext.Builder()
            .withGroup("argoproj.io").withVersion("v1alpha1").withKind("Workflow").withPlural("workflows")
            .withNamespaced(true).build();
    /** Long enough that a spaced read cannot happen within a test, so any read seen must be an unspaced one. */
    static final Duration NEVER = Duration.ofHours(1);
    /** Long enough for the watch to deliver an event and a read to follow, had one been due. */
    static final Duration QUIET = Duration.ofMillis(700);

    private QuotaMonitor monitor;
    /** The spacing's clock in the tests that drive it by hand; it moves only when a test moves it. */
    private final AtomicLong fakeNanos = new AtomicLong();

    @AfterEach
    void stop() {
        if (monitor != null) {
            monitor.stop();
        }
    }

    private CapacityGate start(KubernetesApiEmulation kubernetes, long hard, int existing, EdgeReadSpacing spacing) {
        kubernetes.createQuota(NS, QUOTA, RESOURCE, hard);
        KubernetesClient client = kubernetes.client();
        for (int i = 0; i < existing; i++) {
            create(client, "existing-" + i);
        }
        // A poll that never comes within a test: every read seen was asked for by an event or by the gate.
        BackpressureProperties p = new BackpressureProperties(QUOTA, RESOURCE, 1.0, NEVER, NS, FailMode.CLOSED,
                Duration.ofSeconds(5), Duration.ofSeconds(5));
        CapacityGate gate = new CapacityGate(true, 1.0, FailMode.CLOSED, Clock.systemUTC());
        monitor = new QuotaMonitor(kubernetes.client(), p, NS, gate, true, spacing);
        monitor.start();
        await().atMost(Duration.ofSeconds(10))
                .until(() -> gate.state().hard() == hard && gate.state().used() == existing && monitor.watching());
        return gate;
    }

    /** Spacing of up to an hour on a clock that stands still: an edge read asked for now is not due in this test. */
    private EdgeReadSpacing handDriven() {
        return new EdgeReadSpacing(NEVER, EdgeReadSpacing.FREED_PER_READ, EdgeReadSpacing.RATE_WINDOW, fakeNanos::get);
    }

    private static void create(KubernetesClient client, String name) {
        client.genericKubernetesResources(WORKFLOWS).inNamespace(NS).resource(new GenericKubernetesResourceBuilder()
                .withApiVersion("argoproj.io/v1alpha1").withKind("Workflow").withNewMetadata().withName(name)
                .endMetadata().build()).create();
    }

    /** The monitor's reads once they stayed unchanged for {@link #QUIET}. */
    private long settledReads() {
        java.util.concurrent.atomic.AtomicLong last = new java.util.concurrent.atomic.AtomicLong(-1);
        await().during(QUIET).atMost(QUIET.multipliedBy(10))
                .until(() -> last.getAndSet(monitor.readsOk()) == monitor.readsOk());
        return monitor.readsOk();
    }

    /** The monitor's reads stay at {@code reads} for {@link #QUIET}. */
    private void noReadFor(long reads) {
        await().during(QUIET).atMost(QUIET.multipliedBy(3)).until(() -> monitor.readsOk() == reads);
    }

    @Test
    void theSpacingIsTheTimeInWhichTwentySlotsFreeAtMostItsCeiling() {
        EdgeReadSpacing spacing = new EdgeReadSpacing(Duration.ofMillis(100), 20, Duration.ofSeconds(1), fakeNanos::get);
        assertThat(spacing.waitNanos()).as("no read yet").isLessThanOrEqualTo(0);
        spacing.readStarted();
        spacing.readApplied(0, 75);
        assertThat(spacing.spacing()).as("nothing freed yet").isEqualTo(Duration.ofMillis(100));
        // 400 slots a second: every 10 ms, 4 created and used unchanged.
        long created = 0;
        for (int i = 0; i < 1_000; i++) {
            fakeNanos.addAndGet(Duration.ofMillis(10).toNanos());
            created += 4;
            spacing.readStarted();
            spacing.readApplied(created, 75);
        }
        assertThat(spacing.freedPerSecond()).isBetween(390.0, 410.0);
        assertThat(spacing.spacing().toNanos()).isBetween(Duration.ofMillis(48).toNanos(), Duration.ofMillis(52).toNanos());
        assertThat(spacing.waitNanos()).isEqualTo(spacing.spacing().toNanos());
        // A trickle: one slot every 2 s is slower than the ceiling allows for, and each read is due at once.
        for (int i = 0; i < 5; i++) {
            fakeNanos.addAndGet(Duration.ofSeconds(2).toNanos());
            assertThat(spacing.waitNanos()).isLessThanOrEqualTo(0);
            created += 1;
            spacing.readStarted();
            spacing.readApplied(created, 75);
        }
        assertThat(spacing.spacing()).isEqualTo(Duration.ofMillis(100));
    }

    @Test
    void atTheEdgeEventsWaitForTheSpacingAndAFreeAfterAQuietSpellIsReadAtOnce(KubernetesApiEmulation kubernetes) {
        kubernetes.setQuotaControllerLag(Duration.ZERO);
        CapacityGate gate = start(kubernetes, 10, 10, handDriven());
        assertThat(gate.state().blockedFor(BlockedReason.QUOTA_FULL)).isTrue();
        long reads = monitor.readsOk();

        kubernetes.deleteOldest(NS, "Workflow", 1);
        noReadFor(reads);
        assertThat(gate.state().blocked()).as("the freed slot waits for the spacing").isTrue();

        // The previous read is now older than any spacing: the next freed slot is read at once, and the read covers
        // the earlier one too.
        fakeNanos.addAndGet(NEVER.toNanos() + 1);
        kubernetes.deleteOldest(NS, "Workflow", 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.state().headroom() == 2);
        assertThat(monitor.readsOk()).isEqualTo(reads + 1);
    }

    @Test
    void aRejectedCreateIsReadAtOnceThoughEventsAreSpaced(KubernetesApiEmulation kubernetes) {
        kubernetes.setQuotaControllerLag(Duration.ZERO);
        CapacityGate gate = start(kubernetes, 10, 9, handDriven());
        long reads = monitor.readsOk();
        // Another writer takes the last slot; its event is spaced, so the gate still believes in one slot.
        create(kubernetes.client(), "other-writer");
        noReadFor(reads);
        try (CapacityGate.Lease lease = gate.tryLease(64)) {
            assertThat(lease.permits()).isEqualTo(1);
            CapacityGate.Permit permit = lease.take();
            try {
                create(kubernetes.client(), "ours");
                permit.created();
            } catch (KubernetesClientException e) {
                assertThat(e.getCode()).isEqualTo(403);
                permit.quotaRejected();
            }
        }
        assertThat(kubernetes.exceededQuotaRejections()).isEqualTo(1);
        await().atMost(Duration.ofSeconds(5)).until(() -> monitor.readsOk() == reads + 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> !gate.permitsRevoked() && gate.state().used() == 10);
    }

    @Test
    void anUnknownQuotaAndAPausedGateAreReadAtOnce(KubernetesApiEmulation kubernetes) {
        kubernetes.setQuotaControllerLag(Duration.ZERO);
        CapacityGate gate = start(kubernetes, 10, 10, handDriven());
        long reads = monitor.readsOk();

        // A failed read as the monitor would record it, without the retry it would schedule.
        gate.readFailed(gate.beginRead(), "connection refused", false);
        assertThat(gate.state().blockedFor(BlockedReason.QUOTA_UNKNOWN)).isTrue();
        kubernetes.deleteOldest(NS, "Workflow", 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.state().headroom() == 1);
        assertThat(monitor.readsOk()).isEqualTo(reads + 1);

        gate.pause();
        kubernetes.deleteOldest(NS, "Workflow", 1);
        await().atMost(Duration.ofSeconds(5)).until(() -> monitor.readsOk() == reads + 2);
        gate.resume();
        assertThat(gate.state().headroom()).isEqualTo(2);
    }

    @Test
    void whileWholeBatchesFitEventsAreReadOnceAtTheNextFetch(KubernetesApiEmulation kubernetes) {
        CapacityGate gate = start(kubernetes, 1_000_000, 0, handDriven());
        KubernetesClient client = kubernetes.client();
        // The informer's initial ADDED event may still be pending: one fetch reads it before counting.
        gate.tryLease(64).close();
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.state().createdUnobserved() == 0);
        // That read may still be on its way (a loaded machine, 07:03): counted from before it lands, it would look
        // like a read the events caused.
        long reads = settledReads();
        for (int i = 0; i < 5; i++) {
            create(client, "wf-" + i);
        }
        await().atMost(Duration.ofSeconds(5)).until(() -> kubernetes.used(NS, QUOTA, RESOURCE) == 5);
        noReadFor(reads);
        gate.tryLease(64).close();
        await().atMost(Duration.ofSeconds(5)).until(() -> gate.state().used() == 5);
        assertThat(monitor.readsOk()).isEqualTo(reads + 1);
        gate.tryLease(64).close();
        noReadFor(reads + 1);
    }

    /**
     * The full-quota burst in miniature: quota 75 at capacity-ratio 1.0, 16 creates at a time with two batches
     * of 64 queued in front of them, workflows completing 50–100 ms after creation and the quota controller giving
     * their slot back 100 ms later; a loop that leases permits and creates as the fetch loop and its worker pool do.
     * No 403, and at most one quota GET per ten objects created.
     */
    @Test
    void aFullQuotaBurstReadsAtMostOncePerTenObjects(KubernetesApiEmulation kubernetes) throws Exception {
        int messages = 1_500;
        int concurrency = 16;
        int batch = 64;
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
        kubernetes.completeAutomatically("Workflow", Duration.ofMillis(50), Duration.ofMillis(100));
        CapacityGate gate = start(kubernetes, 75, 0, new EdgeReadSpacing());
        KubernetesClient client = kubernetes.client();
        long reads0 = kubernetes.quotaReads();
        AtomicInteger created = new AtomicInteger();
        AtomicInteger rejected = new AtomicInteger();
        AtomicInteger unstarted = new AtomicInteger(messages);
        // The worker pool's room: concurrency workers and two batches queued in front of them; the loop fetches once a
        // whole batch fits.
        Semaphore room = new Semaphore(concurrency + 2 * batch);
        ExecutorService workers = Executors.newFixedThreadPool(concurrency);
        AtomicInteger names = new AtomicInteger();
        long deadline = System.nanoTime() + Duration.ofMinutes(2).toNanos();
        // Sampled during the burst: once it ends, the rate window empties and the spacing climbs back to its ceiling
        // (on a loaded machine the end comes before the assertion reads it).
        Duration shortestSpacing = EdgeReadSpacing.MAX_SPACING;
        try {
            while (created.get() < messages && System.nanoTime() < deadline) {
                Duration spacingNow = monitor.edgeSpacing();
                if (spacingNow.compareTo(shortestSpacing) < 0) {
                    shortestSpacing = spacingNow;
                }
                if (!room.tryAcquire(batch, 1, TimeUnit.SECONDS)) {
                    continue;
                }
                int free = batch + room.drainPermits();
                int want = Math.min(Math.min(batch, free), unstarted.get());
                if (want <= 0) {
                    room.release(free);
                    continue;
                }
                try (CapacityGate.Lease lease = gate.lease(want, Duration.ofSeconds(1), () -> true)) {
                    room.release(free - lease.permits());
                    for (int i = 0; i < lease.permits(); i++) {
                        CapacityGate.Permit permit = lease.take();
                        unstarted.decrementAndGet();
                        String name = "burst-" + names.incrementAndGet();
                        workers.execute(() -> {
                            try {
                                create(client, name);
                                created.incrementAndGet();
                                permit.created();
                            } catch (KubernetesClientException e) {
                                if (e.getCode() == 403) {
                                    rejected.incrementAndGet();
                                    permit.quotaRejected();
                                } else {
                                    permit.returned();
                                }
                                unstarted.incrementAndGet();
                            } finally {
                                room.release();
                            }
                        });
                    }
                }
            }
        } finally {
            workers.shutdownNow();
            kubernetes.stopCompleting();
        }
        long reads = kubernetes.quotaReads() - reads0;
        assertThat(created.get()).isEqualTo(messages);
        assertThat(rejected.get()).as("403 exceeded quota").isZero();
        assertThat(kubernetes.exceededQuotaRejections()).isZero();
        assertThat(kubernetes.maxUsed(NS, QUOTA, RESOURCE)).isLessThanOrEqualTo(75);
        assertThat((double) reads / messages).as("quota GETs per created object (%d reads)", reads)
                .isLessThanOrEqualTo(0.1);
        // The spacing followed the flow: shorter than its ceiling, which only a slow flow gets.
        assertThat(shortestSpacing).isLessThan(EdgeReadSpacing.MAX_SPACING);
    }
}
