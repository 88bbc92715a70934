package io.quotagate.bench;

import java.time.Duration;
import java.util.function.LongSupplier;

import io.nats.client.Connection;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Message;
import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.trigger.TriggerResult;

/**
 * Part 2, the regression guard: the same stream of messages drained by bare jnats and by QuotaGate's consumer with
 * a no-op trigger, each with a fresh durable consumer on the same nats-server. Timed from the first message
 * received to the last one settled, so set-up is not counted.
 */
final class Throughput {

    /**
     * {@code cpuMsPerMessage}: this JVM's CPU time over the timed span per message (NaN where not measured).
     * {@code serverCpuUsPerMessage}: the nats-server's over the same span, in µs (NaN where not measured): most of what
     * a message costs on this machine is the server's, and a consumer that asks more of it per message shows there.
     */
    record Run(String variant, int messages, double seconds, long quotaReads, boolean allAcked, double cpuMsPerMessage,
               String threads, double serverCpuUsPerMessage) {
        double rate() {
            return messages / seconds;
        }
    }

    private final String natsUrl;
    private final String stream;
    private final int messages;
    private final KubernetesApiEmulation kubernetes;
    private final String namespace;
    private final LongSupplier serverCpuNanos;
    private int durables;

    Throughput(String natsUrl, String stream, int messages, KubernetesApiEmulation kubernetes, String namespace,
               LongSupplier serverCpuNanos) {
        this.serverCpuNanos = serverCpuNanos;
        this.natsUrl = natsUrl;
        this.stream = stream;
        this.messages = messages;
        this.kubernetes = kubernetes;
        this.namespace = namespace;
    }

    /** (a) The ceiling: jnats' simplified pull API, batches of 64, ack() each, one thread. */
    Run bare() throws Exception {
        return pullAndAck("a", "bare", 64);
    }

    /**
     * A plain jnats pull consumer on a fresh durable: fetch up to {@code batch} with a 1 s window, ack each, one
     * thread; timed (and its CPU counted) from the first message to the last. One pull subscription for the whole
     * run, as QuotaGate keeps one (and as nats.go's {@code Fetch} works): jnats' {@code ConsumerContext.fetch}
     * subscribes per fetch, and messages the server sends after a fetch's window then come back only after
     * ack-wait, which stalled whole runs of (a) for 30 s in the first runs of stop 11.
     */
    private Run pullAndAck(String variant, String durablePrefix, int batch) throws Exception {
        String durable = durablePrefix + "-" + (++durables);
        long reads0 = kubernetes.quotaReads();
        try (Connection c = Bench.connect(natsUrl, durable)) {
            Bench.createDurable(c, stream, durable);
            JetStreamSubscription sub = Bench.pullSubscription(c, stream, durable);
            int n = 0;
            long t0 = 0;
            long t1 = 0;
            long cpu0 = 0;
            long cpu1 = 0;
            long server0 = 0;
            long server1 = 0;
            java.util.Map<String, Long> threads0 = java.util.Map.of();
            String threads = "";
            while (n < messages) {
                for (Message m : sub.fetch(batch, Duration.ofSeconds(1))) {
                    if (n == messages) {
                        break;
                    }
                    if (n == 0) {
                        t0 = System.nanoTime();
                        cpu0 = Bench.processCpuNanos();
                        server0 = serverCpuNanos.getAsLong();
                        threads0 = Bench.threadCpuNanos();
                    }
                    m.ack();
                    if (++n == messages) {
                        t1 = System.nanoTime();
                        cpu1 = Bench.processCpuNanos();
                        server1 = serverCpuNanos.getAsLong();
                        threads = Bench.threadCpuPerMessage(threads0, Bench.threadCpuNanos(), messages);
                        Bench.log("(%s) CPU per message by thread: %s", variant, threads);
                    }
                }
            }
            c.flush(Duration.ofSeconds(5));
            sub.unsubscribe();
            return new Run(variant, messages, (t1 - t0) / 1e9, kubernetes.quotaReads() - reads0, drained(c, durable),
                    (cpu1 - cpu0) / 1e6 / messages, threads, serverUs(server0, server1, messages));
        }
    }

    /** (b) QuotaGate's consumer, gate enabled and open (huge quota), a trigger that does nothing. */
    Run quotaGate(int concurrency) throws Exception {
        String durable = "quotagate-" + (++durables);
        long reads0 = kubernetes.quotaReads();
        try (Rig rig = new Rig(natsUrl, stream, durable, kubernetes.url(), namespace, 0.95, "30s",
                m -> TriggerResult.created("noop"), concurrency)) {
            long[] cpu0 = new long[1];
            long[] server0 = new long[1];
            @SuppressWarnings("unchecked")
            java.util.Map<String, Long>[] threads0 = new java.util.Map[1];
            rig.trigger.onFirst = () -> {
                cpu0[0] = Bench.processCpuNanos();
                server0[0] = serverCpuNanos.getAsLong();
                threads0[0] = Bench.threadCpuNanos();
            };
            rig.start().awaitGateOpen(Duration.ofSeconds(10));
            rig.trigger.awaitCreated(messages, Duration.ofMinutes(5));
            long cpu1 = Bench.processCpuNanos();
            long server1 = serverCpuNanos.getAsLong();
            String threads = Bench.threadCpuPerMessage(threads0[0], Bench.threadCpuNanos(), messages);
            Bench.log("(b) CPU per message by thread: %s", threads);
            double seconds = (rig.trigger.lastCreatedNanos - rig.trigger.firstFireNanos) / 1e9;
            long created = rig.trigger.created.get();
            rig.consumer.stop();
            try (Connection c = Bench.connect(natsUrl, "check")) {
                return new Run("b", (int) created, seconds, kubernetes.quotaReads() - reads0,
                        created >= messages && drained(c, durable), (cpu1 - cpu0[0]) / 1e6 / Math.max(1, created), threads,
                        serverUs(server0[0], server1, Math.max(1, created)));
            }
        }
    }

    /** The server's CPU per message in µs; NaN where its CPU time could not be read. */
    private static double serverUs(long before, long after, long messages) {
        return before < 0 || after < 0 ? Double.NaN : (after - before) / 1e3 / messages;
    }

    static boolean drained(Connection c, String stream, String durable) throws Exception {
        for (int i = 0; i < 100; i++) {
            ConsumerInfo info = c.jetStreamManagement().getConsumerInfo(stream, durable);
            if (info.getNumAckPending() == 0 && info.getNumPending() == 0) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    private boolean drained(Connection c, String durable) throws Exception {
        return drained(c, stream, durable);
    }
}
