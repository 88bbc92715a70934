package io.quotagate.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.trigger.InboundMessage;
import io.quotagate.trigger.KubernetesResourceTrigger;
import io.quotagate.trigger.TriggerProperties;
import io.quotagate.trigger.TriggerResult;

/** Parts 3, 4 and 5: QuotaGate against the Kubernetes API emulation: draining, the full-quota burst, resume latency. */
final class Apiserver {

    record Drain(int concurrency, int messages, double seconds, long quotaReads, long creates, long batches,
                 long rejections, double cpuMsPerMessage) {
        double rate() {
            return messages / seconds;
        }
    }

    record Resume(List<Double> latenciesMs, long quotaReads) {
    }

    /**
     * @param quotaReads    quota GETs and lists from the first message to the last create
     * @param maxUsed       the highest {@code status.used} the quota ever had
     * @param spacingMs     the quota monitor's edge spacing at the end
     * @param freedPerSecond freed slots per second as the monitor last measured them
     */
    record Burst(int messages, long created, long rejections, long maxUsed, double seconds, long quotaReads,
                 double cpuMsPerMessage, double spacingMs, double freedPerSecond) {
        double rate() {
            return created / seconds;
        }

        double readsPerCreate() {
            return (double) quotaReads / Math.max(1, created);
        }
    }

    private final String natsUrl;
    private final KubernetesApiEmulation kubernetes;
    private static int runs;
    /** CPU time of this JVM (emulation and client together) per create in the latest {@link #ceiling} run. */
    static volatile double lastCeilingCpuMsPerCreate;

    Apiserver(String natsUrl, KubernetesApiEmulation kubernetes) {
        this.natsUrl = natsUrl;
        this.kubernetes = kubernetes;
    }

    /** Part 3: drains {@code messages} from {@code stream} through QuotaGate with the Kubernetes trigger. */
    Drain drain(String stream, int messages, int concurrency) throws Exception {
        String ns = "drain-" + (++runs) + "-c" + concurrency;
        kubernetes.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 1_000_000);
        long creates0 = kubernetes.successfulCreates();
        long rejections0 = kubernetes.exceededQuotaRejections();
        try (Rig rig = new Rig(natsUrl, stream, "drain-" + runs, kubernetes.url(), ns, 0.95, "30s", null,
                concurrency)) {
            // Counted while flowing: from the first message on (set-up reads, such as the one for the informer's
            // initial ADDED event, are not), like the batches.
            long[] atFirst = new long[3];
            @SuppressWarnings("unchecked")
            java.util.Map<String, Long>[] threads0 = new java.util.Map[1];
            rig.trigger.onFirst = () -> {
                threads0[0] = Bench.threadCpuNanos();
                atFirst[0] = kubernetes.quotaReads();
                atFirst[1] = rig.gate.batchesFetched() - 1;
                atFirst[2] = Bench.processCpuNanos();
            };
            Duration settled = Bench.awaitJitQuiet(Duration.ofSeconds(15));
            Bench.log("part 3, concurrency %d: JIT quiet after %d ms", concurrency, settled.toMillis());
            rig.start().awaitGateOpen(Duration.ofSeconds(10));
            rig.trigger.awaitCreated(messages, Duration.ofMinutes(10));
            double seconds = (rig.trigger.lastCreatedNanos - rig.trigger.firstFireNanos) / 1e9;
            long reads = kubernetes.quotaReads() - atFirst[0];
            long batches = rig.gate.batchesFetched() - atFirst[1];
            int created = (int) rig.trigger.created.get();
            double cpuMs = (Bench.processCpuNanos() - atFirst[2]) / 1e6 / Math.max(1, created);
            Bench.log("part 3, concurrency %d: CPU per message by thread: %s", concurrency,
                    Bench.threadCpuPerMessage(threads0[0], Bench.threadCpuNanos(), Math.max(1, created)));
            return new Drain(concurrency, created, seconds, reads,
                    kubernetes.successfulCreates() - creates0, batches, kubernetes.exceededQuotaRejections() - rejections0,
                    cpuMs);
        }
    }

    /**
     * The emulated apiserver's own ceiling: QuotaGate's trigger (same template, same client settings) fired from
     * {@code concurrency} threads on synthetic messages, no NATS and no gate. Returns creates per second.
     */
    double ceiling(int concurrency, int creates) throws Exception {
        String ns = "ceiling-" + (++runs) + "-c" + concurrency;
        kubernetes.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 1_000_000);
        TriggerProperties tp = Bench.workflowTrigger(concurrency);
        KubernetesClient client = triggerClient(tp, concurrency);
        java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(concurrency);
        try {
            KubernetesResourceTrigger trigger = Bench.workflowTrigger(client, ns, tp);
            // one create first: the one-off API discovery is not part of the rate
            trigger.fire(new InboundMessage("CEILING", 0, "ceiling", Bench.payload(0, 200), Map.of(), 1));
            Bench.awaitJitQuiet(Duration.ofSeconds(15));
            List<java.util.concurrent.Future<TriggerResult>> futures = new ArrayList<>();
            long cpu0 = Bench.processCpuNanos();
            long t0 = System.nanoTime();
            for (int i = 1; i <= creates; i++) {
                InboundMessage m = new InboundMessage("CEILING", i, "ceiling", Bench.payload(i, 200), Map.of(), 1);
                futures.add(pool.submit(() -> trigger.fire(m)));
            }
            for (java.util.concurrent.Future<TriggerResult> f : futures) {
                f.get();
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            lastCeilingCpuMsPerCreate = (Bench.processCpuNanos() - cpu0) / 1e6 / creates;
            return creates / seconds;
        } finally {
            pool.shutdown();
            client.close();
        }
    }

    /** A client sized for {@code concurrency} creates, as the application sizes its trigger's client. */
    private KubernetesClient triggerClient(TriggerProperties tp, int concurrency) {
        return new io.quotagate.kubernetes.KubernetesClients(
                new io.quotagate.kubernetes.KubernetesClientProperties(kubernetes.url())).create(tp.requestTimeout(), concurrency);
    }

    /**
     * Part 4, the full-quota burst: {@code messages} published at once to {@code stream} against a quota of
     * {@code hard} at capacity-ratio 1.0, QuotaGate with its Kubernetes trigger at {@code concurrency}. The caller
     * sets the emulation up (completion, controller lag). Quota reads are counted from the first message to the
     * last create, like the drains' (the informer's set-up list is not).
     */
    Burst burst(String stream, int messages, long hard, int concurrency) throws Exception {
        String ns = "burst-" + (++runs);
        kubernetes.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, hard);
        long creates0 = kubernetes.successfulCreates();
        long rejections0 = kubernetes.exceededQuotaRejections();
        try (Rig rig = new Rig(natsUrl, stream, "burst-" + runs, kubernetes.url(), ns, 1.0, "30s", null, concurrency)) {
            long[] atFirst = new long[2];
            rig.trigger.onFirst = () -> {
                atFirst[0] = kubernetes.quotaReads();
                atFirst[1] = Bench.processCpuNanos();
            };
            rig.start().awaitGateOpen(Duration.ofSeconds(10));
            if (!rig.trigger.awaitCreated(messages, Duration.ofMinutes(10))) {
                throw new IllegalStateException("burst: only " + rig.trigger.created.get() + " of " + messages + " created");
            }
            long reads = kubernetes.quotaReads() - atFirst[0];
            double cpuMs = (Bench.processCpuNanos() - atFirst[1]) / 1e6 / messages;
            double seconds = (rig.trigger.lastCreatedNanos - rig.trigger.firstFireNanos) / 1e9;
            return new Burst(messages, kubernetes.successfulCreates() - creates0,
                    kubernetes.exceededQuotaRejections() - rejections0, kubernetes.maxUsed(ns, Bench.QUOTA, Bench.RESOURCE),
                    seconds, reads, cpuMs, rig.monitor.edgeSpacing().toNanos() / 1e6, rig.monitor.freedPerSecond());
        }
    }

    /**
     * Part 5: a full quota (hard 10, capacity-ratio 1.0, a backlog waiting); each cycle frees one unit by
     * deleting an object (quota controller lag 0: the quota update happens inside that call) and times how long
     * until the next object is created. Cycles start 100–300 ms after the previous create, at random.
     */
    Resume resume(String stream, int cycles, Duration pollInterval) throws Exception {
        String ns = "resume-" + (++runs);
        kubernetes.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 10);
        kubernetes.setQuotaControllerLag(Duration.ZERO);
        kubernetes.setCreateLatency(Duration.ZERO);
        kubernetes.stopCompleting();
        List<Double> latencies = new ArrayList<>();
        long reads0;
        try (Rig rig = new Rig(natsUrl, stream, "resume-" + runs, kubernetes.url(), ns, 1.0,
                pollInterval.toSeconds() + "s", null, 4)) {
            rig.trigger.signalEachCreate = true;
            rig.start();
            long end = System.nanoTime() + Duration.ofMinutes(2).toNanos();
            while ((rig.trigger.created.get() < 10 || !rig.gate.state().blocked()) && System.nanoTime() < end) {
                Thread.sleep(5);
            }
            if (rig.trigger.created.get() != 10) {
                throw new IllegalStateException("quota did not fill: " + rig.trigger.created.get());
            }
            reads0 = kubernetes.quotaReads();
            for (int i = 0; i < cycles; i++) {
                Thread.sleep(ThreadLocalRandom.current().nextLong(100, 300));
                rig.trigger.createdSignal.drainPermits();
                long before = rig.trigger.created.get();
                long t0 = System.nanoTime();
                kubernetes.deleteOldest(ns, "Workflow", 1);
                if (!rig.trigger.createdSignal.tryAcquire(pollInterval.toMillis() * 2 + 10_000, TimeUnit.MILLISECONDS)) {
                    throw new IllegalStateException("no create within " + pollInterval.multipliedBy(2) + " in cycle " + i);
                }
                latencies.add((rig.trigger.lastCreatedNanos - t0) / 1e6);
                Thread.sleep(20);
                if (rig.trigger.created.get() != before + 1) {
                    throw new IllegalStateException("cycle " + i + " created " + (rig.trigger.created.get() - before));
                }
            }
            return new Resume(latencies, kubernetes.quotaReads() - reads0);
        } finally {
            kubernetes.setQuotaControllerLag(KubernetesApiEmulation.DEFAULT_QUOTA_CONTROLLER_LAG);
        }
    }
}
