package io.quotagate.bench;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.micrometer.core.instrument.Counter;
import io.nats.client.Connection;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.trigger.Trigger;
import io.quotagate.trigger.TriggerResult;

import static io.quotagate.bench.Bench.f0;
import static io.quotagate.bench.Bench.f1;
import static io.quotagate.bench.Bench.f3;

/**
 * Part 6: what the created-record (issue 22) costs per created object. The same drain with the record off and on,
 * alternating, on a fresh durable each (so a fresh bucket each, created at start): (a) no-op creates, where only
 * QuotaGate's own cost shows, and (b) the Kubernetes trigger against the emulation with 20 ms creates, where the goal
 * is no measurable drop in drain rate. Reports the median msg/s and this JVM's CPU per message of each, the bucket
 * writes, and whether every message was acked at the end (an ack waits for its record).
 */
final class CreatedRecordBench {

    record Run(boolean on, int messages, double seconds, double cpuMsPerMessage, double quotaGateMicros,
               double writes) {
        double rate() {
            return messages / seconds;
        }
    }

    private static final String STREAM = "RECORD";
    private static final int TAIL = 256;
    private final String natsUrl;
    private final Connection producer;
    private final Map<String, String> cfg;
    private int runs;

    CreatedRecordBench(String natsUrl, Connection producer, Map<String, String> cfg) {
        this.natsUrl = natsUrl;
        this.producer = producer;
        this.cfg = cfg;
    }

    private int num(String key, int dflt) {
        return Integer.parseInt(cfg.getOrDefault(key, Integer.toString(dflt)));
    }

    /** Runs both cases; returns the report's section. */
    String run() throws Exception {
        int reps = num("recordReps", 3);
        int noopMessages = num("recordNoop", 20_000);
        int slowMessages = num("recordSlow", 2_000);
        int slowConc = num("recordConc", 16);
        Bench.createStream(producer, STREAM, "record.>");
        StringBuilder r = new StringBuilder("## 6. The created-record's cost per created object (issue 22)\n\n");
        r.append(String.format("The same drain with `jetstream.created-record` off and on, alternating, %d rounds each, "
                + "a fresh durable (and so a fresh bucket) per run: (a) %,d messages, no-op trigger, concurrency 4; "
                + "(b) %,d messages through the Kubernetes trigger, emulated creates of 20 ms, concurrency %d, "
                + "workflows completing 50–100 ms after creation. msg/s from the first message to the last create; "
                + "CPU = this JVM's CPU time over that span per message (nats-server excluded, so the bucket's own "
                + "server cost is not in it; JIT compilers and the emulation included); QuotaGate threads = the CPU of "
                + "the threads named quotagate* (workers, fetch loop, ack confirmer, the record's writer, jnats' "
                + "connection threads) only; writes = block writes to the bucket. Medians. Three rounds on two cores: "
                + "differences of a few percent are noise.%n%n", reps, noopMessages, slowMessages, slowConc));
        r.append("| case | record | msg/s | CPU ms per message | QuotaGate threads µs per message | block writes "
                + "| messages per write |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
        try (KubernetesApiEmulation k = new KubernetesApiEmulation()) {
            table(r, "(a) no-op", reps, () -> {
                String ns = "record-noop-" + runs;
                k.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 1_000_000);
                return ns;
            }, k, m -> TriggerResult.created("noop"), noopMessages, 4);
        }
        table(r, "(b) 20 ms creates", reps, null, null, null, slowMessages, slowConc);
        return r.toString();
    }

    private interface Namespace {
        String create();
    }

    private void table(StringBuilder r, String label, int reps, Namespace ns, KubernetesApiEmulation shared,
                       Trigger trigger, int messages, int concurrency) throws Exception {
        List<Run> off = new ArrayList<>();
        List<Run> on = new ArrayList<>();
        for (int i = 0; i < 2; i++) { // warm-up, untimed: the JIT compiles the record's path too
            drain(false, ns, shared, trigger, Math.min(messages, 10_000), concurrency);
            drain(true, ns, shared, trigger, Math.min(messages, 10_000), concurrency);
        }
        for (int i = 0; i < reps; i++) {
            off.add(drain(false, ns, shared, trigger, messages, concurrency));
            on.add(drain(true, ns, shared, trigger, messages, concurrency));
        }
        double offRate = Bench.median(off.stream().map(Run::rate).toList());
        double onRate = Bench.median(on.stream().map(Run::rate).toList());
        double offCpu = Bench.median(off.stream().map(Run::cpuMsPerMessage).toList());
        double onCpu = Bench.median(on.stream().map(Run::cpuMsPerMessage).toList());
        double writes = Bench.median(on.stream().map(Run::writes).toList());
        double offQg = Bench.median(off.stream().map(Run::quotaGateMicros).toList());
        double onQg = Bench.median(on.stream().map(Run::quotaGateMicros).toList());
        r.append("| ").append(label).append(" | off | ").append(f0(offRate)).append(" | ").append(f3(offCpu))
                .append(" | ").append(f1(offQg)).append(" | – | – |\n");
        r.append("| ").append(label).append(" | on | ").append(f0(onRate)).append(" | ").append(f3(onCpu))
                .append(" | ").append(f1(onQg)).append(" | ").append(f0(writes)).append(" | ").append(f1(messages / Math.max(1, writes))).append(" |\n");
        r.append("| ").append(label).append(" | on − off | ").append(f1(100 * (onRate / offRate - 1))).append(" % | ")
                .append(String.format("%+.3f", onCpu - offCpu)).append(" | ")
                .append(String.format("%+.1f", onQg - offQg)).append(" | | |\n");
        Bench.log("part 6 %s: off %s msg/s %s ms CPU, on %s msg/s %s ms CPU, %s writes", label, f0(offRate),
                f3(offCpu), f0(onRate), f3(onCpu), f0(writes));
    }

    private Run drain(boolean on, Namespace nsMaker, KubernetesApiEmulation shared, Trigger trigger, int messages,
                      int concurrency) throws Exception {
        producer.jetStreamManagement().purgeStream(STREAM);
        Bench.publish(producer, "record.msg", messages + TAIL, 200);
        runs++;
        String durable = "record-" + runs;
        KubernetesApiEmulation k = shared;
        if (k == null) {
            k = new KubernetesApiEmulation();
            k.setCreateLatency(Duration.ofMillis(20));
            k.completeAutomatically("Workflow", Duration.ofMillis(50), Duration.ofMillis(100));
        }
        try {
            String ns;
            if (nsMaker != null) {
                ns = nsMaker.create();
            } else {
                ns = "record-" + runs;
                k.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 1_000_000);
            }
            try (Rig rig = new Rig(natsUrl, STREAM, durable, k.url(), ns, 0.95, "30s", trigger, concurrency, on)) {
                long[] cpu0 = new long[1];
                @SuppressWarnings("unchecked")
                Map<String, Long>[] threads0 = new Map[1];
                rig.trigger.onFirst = () -> {
                    cpu0[0] = Bench.processCpuNanos();
                    threads0[0] = Bench.threadCpuNanos();
                };
                Bench.awaitJitQuiet(Duration.ofSeconds(15));
                rig.start().awaitGateOpen(Duration.ofSeconds(10));
                rig.trigger.awaitCreated(messages, Duration.ofMinutes(10));
                long cpu1 = Bench.processCpuNanos();
                Map<String, Long> threads1 = Bench.threadCpuNanos();
                Bench.log("part 6, record %s: CPU per message by thread: %s", on ? "on" : "off",
                        Bench.threadCpuPerMessage(threads0[0], threads1, Math.max(1, messages)));
                long qg = 0;
                for (Map.Entry<String, Long> e : threads1.entrySet()) {
                    if (e.getKey().startsWith("quotagate")) {
                        qg += e.getValue() - threads0[0].getOrDefault(e.getKey(), 0L);
                    }
                }
                double seconds = (rig.trigger.lastCreatedNanos - rig.trigger.firstFireNanos) / 1e9;
                int created = (int) rig.trigger.created.get();
                Counter w = rig.registry.find("quotagate.created.record.writes").counter();
                return new Run(on, created, seconds, (cpu1 - cpu0[0]) / 1e6 / Math.max(1, created),
                        qg / 1e3 / Math.max(1, created), w == null ? 0 : w.count());
            }
        } finally {
            if (shared == null) {
                k.close();
            }
        }
    }
}
