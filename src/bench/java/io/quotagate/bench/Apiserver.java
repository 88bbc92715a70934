package io.quotagate.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import io.fabric8.kubernetes.api.model.ResourceQuota;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.nats.client.Connection;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.nats.client.impl.NatsJetStreamMetaData;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.trigger.InboundMessage;
import io.quotagate.trigger.KubernetesResourceTrigger;
import io.quotagate.trigger.TriggerProperties;
import io.quotagate.trigger.TriggerResult;

/** Parts 3, 4 and 5: QuotaGate against the Kubernetes API emulation, and the original sensor's pattern beside it. */
final class Apiserver {

    record Drain(int concurrency, int messages, double seconds, long quotaReads, long creates, long batches,
                 long rejections, double cpuMsPerMessage) {
        double rate() {
            return messages / seconds;
        }
    }

    record Resume(String mode, List<Double> latenciesMs, long quotaReads) {
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
        try (Rig rig = new Rig(natsUrl, stream, "drain-" + runs, kubernetes.url(), ns, 0.95, "30s", true, null,
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

    /** One create at a time: milliseconds per create, and of that the emulation's dispatcher per request. */
    record RoundTrip(Duration latency, int creates, double msPerCreate, double dispatchMsPerRequest, double requestsPerCreate) {
    }

    /**
     * Part 3's yardstick: {@code creates} creates one after the other with the same client and trigger code as the
     * drains, at the given create latency, after {@code warmup} untimed ones. What is left over the latency is the
     * round trip through the client, the HTTP stack and the emulation on this machine.
     */
    RoundTrip roundTrip(Duration latency, int warmup, int creates) throws Exception {
        String ns = "roundtrip-" + (++runs);
        kubernetes.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 1_000_000);
        kubernetes.setCreateLatency(latency);
        TriggerProperties tp = Bench.workflowTrigger(1);
        KubernetesClient client = triggerClient(tp, 1);
        try {
            KubernetesResourceTrigger trigger = Bench.workflowTrigger(client, ns, tp);
            for (int i = 0; i < warmup; i++) {
                trigger.fire(new InboundMessage("ROUNDTRIP", i, "roundtrip", Bench.payload(i, 200), Map.of(), 1));
            }
            Bench.awaitJitQuiet(Duration.ofSeconds(15));
            long requests0 = kubernetes.requests();
            long dispatch0 = kubernetes.dispatchNanos();
            long t0 = System.nanoTime();
            for (int i = warmup; i < warmup + creates; i++) {
                trigger.fire(new InboundMessage("ROUNDTRIP", i, "roundtrip", Bench.payload(i, 200), Map.of(), 1));
            }
            double ms = (System.nanoTime() - t0) / 1e6 / creates;
            long requests = kubernetes.requests() - requests0;
            return new RoundTrip(latency, creates, ms, (kubernetes.dispatchNanos() - dispatch0) / 1e6 / Math.max(1, requests),
                    (double) requests / creates);
        } finally {
            client.close();
        }
    }

    /**
     * Part 5, the original sensor's pattern with real creates: GET the quota, fetch 1 (1 s max wait), create the
     * object with QuotaGate's own trigger code, ack; one pull subscription, as in part 2's (c).
     */
    Drain originalSensor(String stream, int messages) throws Exception {
        String ns = "sensor-" + (++runs);
        kubernetes.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 1_000_000);
        long reads0 = kubernetes.quotaReads();
        long creates0 = kubernetes.successfulCreates();
        KubernetesClient client = kubernetes.client();
        TriggerProperties tp = Bench.workflowTrigger(1);
        KubernetesResourceTrigger trigger = Bench.workflowTrigger(client, ns, tp);
        String durable = "sensor-" + runs;
        int n = 0;
        long t0 = 0;
        long t1 = 0;
        try (Connection c = Bench.connect(natsUrl, durable)) {
            Bench.createDurable(c, stream, durable);
            JetStreamSubscription sub = Bench.pullSubscription(c, stream, durable);
            while (n < messages) {
                ResourceQuota q = client.resourceQuotas().inNamespace(ns).withName(Bench.QUOTA).get();
                if (!Throughput.hasRoom(q)) {
                    Thread.sleep(30_000);
                    continue;
                }
                for (Message m : sub.fetch(1, Duration.ofSeconds(1))) {
                    if (n == 0) {
                        t0 = System.nanoTime();
                    }
                    NatsJetStreamMetaData meta = m.metaData();
                    TriggerResult r = trigger.fire(new InboundMessage(meta.getStream(), meta.streamSequence(),
                            m.getSubject(), m.getData(), Map.of(), meta.deliveredCount()));
                    if (r.outcome() == TriggerResult.Outcome.CREATED || r.outcome() == TriggerResult.Outcome.ALREADY_EXISTS) {
                        m.ack();
                        if (++n == messages) {
                            t1 = System.nanoTime();
                        }
                    } else {
                        m.nakWithDelay(Duration.ofSeconds(1));
                    }
                }
            }
            c.flush(Duration.ofSeconds(5));
            sub.unsubscribe();
        }
        return new Drain(1, messages, (t1 - t0) / 1e9, kubernetes.quotaReads() - reads0,
                kubernetes.successfulCreates() - creates0, messages, 0, Double.NaN);
    }

    /**
     * Part 4: a full quota (hard 10, capacity-ratio 1.0, a backlog waiting); each cycle frees one unit by
     * deleting an object (quota controller lag 0: the quota update happens inside that call) and times how long
     * until the next object is created. Cycles start at a random moment so polling is not phase-locked.
     */
    Resume resume(String stream, boolean watch, int cycles, Duration pollInterval) throws Exception {
        String ns = "resume-" + (watch ? "watch" : "poll") + "-" + (++runs);
        kubernetes.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 10);
        kubernetes.setQuotaControllerLag(Duration.ZERO);
        kubernetes.setCreateLatency(Duration.ZERO);
        kubernetes.stopCompleting();
        List<Double> latencies = new ArrayList<>();
        long reads0;
        try (Rig rig = new Rig(natsUrl, stream, "resume-" + runs, kubernetes.url(), ns, 1.0,
                pollInterval.toSeconds() + "s", watch, null, 4)) {
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
                long pause = watch ? ThreadLocalRandom.current().nextLong(100, 300)
                        : ThreadLocalRandom.current().nextLong(0, pollInterval.toMillis());
                Thread.sleep(pause);
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
                if (!watch) {
                    Bench.log("resume (polling only) cycle %d: %.0f ms", i + 1, latencies.get(i));
                }
            }
            return new Resume(watch ? "watch + poll 30 s" : "poll 30 s only", latencies, kubernetes.quotaReads() - reads0);
        } finally {
            kubernetes.setQuotaControllerLag(KubernetesApiEmulation.DEFAULT_QUOTA_CONTROLLER_LAG);
        }
    }
}
