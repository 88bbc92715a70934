package io.quotagate.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

import io.nats.client.Connection;
import io.nats.client.JetStream;
import io.nats.client.JetStreamManagement;
import io.nats.client.JetStreamSubscription;
import io.nats.client.Nats;
import io.nats.client.Options;
import io.nats.client.PullSubscribeOptions;
import io.nats.client.api.AckPolicy;
import io.nats.client.api.ConsumerConfiguration;
import io.nats.client.api.PublishAck;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.quotagate.consumer.JetStreamProperties;
import io.quotagate.quota.BackpressureProperties;
import org.springframework.boot.context.properties.bind.Bindable;
import org.springframework.boot.context.properties.bind.Binder;
import org.springframework.boot.context.properties.source.MapConfigurationPropertySource;

/** Small helpers shared by the benchmark parts: property binding, publishing, load, formatting. */
final class Bench {

    static final String RESOURCE = "count/workflows.argoproj.io";
    static final String QUOTA = "workflow-quota";

    private Bench() {
    }

    /** Binds a @ConfigurationProperties record the way Spring does (defaults included) from "key=value" pairs. */
    static <T> T bind(String prefix, Class<T> type, String... keyValues) {
        Map<String, Object> map = new HashMap<>();
        for (String kv : keyValues) {
            int i = kv.indexOf('=');
            map.put(prefix + "." + kv.substring(0, i), kv.substring(i + 1));
        }
        Binder binder = new Binder(new MapConfigurationPropertySource(map));
        return binder.bindOrCreate(prefix, Bindable.of(type));
    }

    static JetStreamProperties jetstream(String url, String stream, String durable, String... more) {
        List<String> kv = new ArrayList<>(List.of("url=" + url, "stream=" + stream, "durable=" + durable,
                "reconnect-wait=200ms"));
        kv.addAll(Arrays.asList(more));
        return bind("jetstream", JetStreamProperties.class, kv.toArray(String[]::new));
    }

    static BackpressureProperties backpressure(String namespace, double ratio, String pollInterval) {
        return bind("backpressure", BackpressureProperties.class, "quota-name=" + QUOTA, "namespace=" + namespace,
                "resource-name=" + RESOURCE, "capacity-ratio=" + ratio, "poll-interval=" + pollInterval);
    }

    static Connection connect(String url, String name) throws IOException, InterruptedException {
        return Nats.connect(new Options.Builder().server(url).connectionName(name).maxReconnects(-1).build());
    }

    static void createStream(Connection c, String stream, String subject) throws Exception {
        JetStreamManagement jsm = c.jetStreamManagement();
        jsm.addStream(StreamConfiguration.builder().name(stream).subjects(subject).storageType(StorageType.File).build());
    }

    static void createDurable(Connection c, String stream, String durable) throws Exception {
        c.jetStreamManagement().addOrUpdateConsumer(stream, ConsumerConfiguration.builder().durable(durable)
                .ackPolicy(AckPolicy.Explicit).ackWait(Duration.ofSeconds(30)).build());
    }

    /** One pull subscription bound to an existing durable, for a consumer's whole run (see Throughput.pullAndAck). */
    static JetStreamSubscription pullSubscription(Connection c, String stream, String durable) throws Exception {
        return c.jetStream().subscribe(null, PullSubscribeOptions.bind(stream, durable));
    }

    /** A JSON message of exactly {@code size} bytes: {"message":"msg-N","pad":"xxx..."}. */
    static byte[] payload(int i, int size) {
        String head = "{\"message\":\"msg-" + i + "\",\"pad\":\"";
        String tail = "\"}";
        int pad = Math.max(0, size - head.length() - tail.length());
        return (head + "x".repeat(pad) + tail).getBytes(StandardCharsets.UTF_8);
    }

    /** Publishes {@code count} messages of {@code size} bytes with up to 1,000 acks outstanding. */
    static void publish(Connection c, String subject, int count, int size) throws Exception {
        JetStream js = c.jetStream();
        List<CompletableFuture<PublishAck>> window = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            window.add(js.publishAsync(subject, payload(i, size)));
            if (window.size() == 1000) {
                for (CompletableFuture<PublishAck> f : window) {
                    f.get();
                }
                window.clear();
            }
        }
        for (CompletableFuture<PublishAck> f : window) {
            f.get();
        }
    }

    static String loadAvg() {
        try {
            String[] f = Files.readString(Path.of("/proc/loadavg")).split(" ");
            return f[0] + " " + f[1] + " " + f[2];
        } catch (IOException e) {
            return "?";
        }
    }

    /** The trigger settings of every Kubernetes part: the Workflow template with one parameter, as the application's. */
    static io.quotagate.trigger.TriggerProperties workflowTrigger(int concurrency) {
        return bind("trigger.kubernetes", io.quotagate.trigger.TriggerProperties.class,
                "template=classpath:templates/workflow.yaml", "concurrency=" + concurrency,
                "parameters[0].src.data-key=message", "parameters[0].dest=spec.arguments.parameters.0.value");
    }

    /** QuotaGate's Kubernetes trigger with {@link #workflowTrigger}'s settings, built as QuotaGateConfiguration builds it. */
    static io.quotagate.trigger.KubernetesResourceTrigger workflowTrigger(
            io.fabric8.kubernetes.client.KubernetesClient client, String namespace, io.quotagate.trigger.TriggerProperties tp) {
        return new io.quotagate.trigger.KubernetesResourceTrigger(client, namespace,
                io.quotagate.trigger.ManifestTemplate.load(tp.template()), tp.parameters(), tp.requestTimeout());
    }

    static String f0(double v) {
        return String.format(Locale.ROOT, "%,.0f", v);
    }

    static String f1(double v) {
        return String.format(Locale.ROOT, "%,.1f", v);
    }

    static String f2(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    /** Three decimals: a ratio judged against a two-decimal target must not round onto it (0.897 is not 0.90). */
    static String f3(double v) {
        return String.format(Locale.ROOT, "%.3f", v);
    }

    static double median(List<Double> values) {
        List<Double> s = new ArrayList<>(values);
        s.sort(Double::compare);
        int n = s.size();
        return n == 0 ? Double.NaN : n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
    }

    /** Nearest-rank percentile of {@code values} (0 < p ≤ 100). */
    static double percentile(List<Double> values, double p) {
        List<Double> s = new ArrayList<>(values);
        s.sort(Double::compare);
        if (s.isEmpty()) {
            return Double.NaN;
        }
        int rank = (int) Math.ceil(p / 100.0 * s.size());
        return s.get(Math.max(0, Math.min(s.size() - 1, rank - 1)));
    }

    static void log(String fmt, Object... args) {
        System.out.printf(Locale.ROOT, "[bench %tT load %s] " + fmt + "%n",
                prepend(System.currentTimeMillis(), loadAvg(), args));
    }

    private static Object[] prepend(Object a, Object b, Object[] rest) {
        Object[] out = new Object[rest.length + 2];
        out[0] = a;
        out[1] = b;
        System.arraycopy(rest, 0, out, 2, rest.length);
        return out;
    }

    /** CPU time used by this JVM so far, all threads: a cost that does not depend on what else the machine runs. */
    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /**
     * Waits (up to {@code max}) until the JIT compiler threads have used less than 5 % of a core over half a second,
     * and returns how long that took. Everything of a benchmark run shares this JVM: setting up a fresh emulation
     * (a Vert.x server) and a fresh consumer leaves the compilers a queue that otherwise runs into the timed window.
     */
    static Duration awaitJitQuiet(Duration max) throws InterruptedException {
        long start = System.nanoTime();
        long previous = compilerCpuNanos();
        while (System.nanoTime() - start < max.toNanos()) {
            Thread.sleep(500);
            long now = compilerCpuNanos();
            if (now - previous < 25_000_000L) {
                break;
            }
            previous = now;
        }
        return Duration.ofNanos(System.nanoTime() - start);
    }

    static long compilerCpuNanos() {
        return threadCpuNanos().entrySet().stream().filter(e -> e.getKey().contains("CompilerThre"))
                .mapToLong(java.util.Map.Entry::getValue).sum();
    }

    /** CPU time of each live thread, summed by name with digits dropped ("quotagate-trigger-N"). */
    static java.util.Map<String, Long> threadCpuNanos() {
        java.lang.management.ThreadMXBean mx = java.lang.management.ManagementFactory.getThreadMXBean();
        java.util.Map<String, Long> out = new java.util.TreeMap<>();
        for (java.lang.management.ThreadInfo info : mx.getThreadInfo(mx.getAllThreadIds())) {
            if (info != null) {
                long cpu = mx.getThreadCpuTime(info.getThreadId());
                if (cpu > 0) {
                    out.merge(info.getThreadName().replaceAll("\\d+", "N"), cpu, Long::sum);
                }
            }
        }
        // The JVM's own threads (GC, JIT) are not Java threads: read them from /proc, in clock ticks (10 ms).
        try (java.util.stream.Stream<java.nio.file.Path> tasks = java.nio.file.Files.list(java.nio.file.Path.of("/proc/self/task"))) {
            tasks.forEach(task -> {
                try {
                    io.quotagate.support.ProcStat stat = io.quotagate.support.ProcStat.read(task.resolve("stat"));
                    String name = stat.name();
                    if (name.startsWith("GC") || name.startsWith("G1") || name.startsWith("C1") || name.startsWith("C2")
                            || name.startsWith("VM") || name.startsWith("Compiler")) {
                        out.merge("[jvm] " + name.replaceAll("\\d+", "N"), stat.cpuNanos(), Long::sum);
                    }
                } catch (Exception e) {
                    // thread gone
                }
            });
        } catch (java.io.IOException e) {
            // no /proc: Java threads only
        }
        return out;
    }

    /** Per-message CPU by thread group between two {@link #threadCpuNanos} snapshots, largest first. */
    static String threadCpuPerMessage(java.util.Map<String, Long> before, java.util.Map<String, Long> after, long messages) {
        return after.entrySet().stream()
                .map(e -> java.util.Map.entry(e.getKey(), (e.getValue() - before.getOrDefault(e.getKey(), 0L)) / 1e3 / messages))
                .filter(e -> e.getValue() >= 0.05)
                .sorted(java.util.Map.Entry.<String, Double>comparingByValue().reversed())
                .limit(8)
                .map(e -> String.format("%s %.1f µs", e.getKey(), e.getValue()))
                .collect(java.util.stream.Collectors.joining(", "));
    }
}
