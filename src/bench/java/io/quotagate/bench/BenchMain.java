package io.quotagate.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import io.nats.client.Connection;
import io.quotagate.QuotaGateApplication;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.NatsServer;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

import static io.quotagate.bench.Bench.f0;
import static io.quotagate.bench.Bench.f1;
import static io.quotagate.bench.Bench.f2;
import static io.quotagate.bench.Bench.f3;

/**
 * Runs every part of the benchmark in one JVM, against one nats-server of its own and one Kubernetes API emulation,
 * and writes {@code target/bench/report.md}. Run with {@code ./mvnw -Pbench verify}.
 *
 * <p>Options, as {@code key=value} program arguments through {@code -Dbench.args="..."} (all optional):
 * {@code only=1,2,...} parts to run (6 and 7 run together); {@code messages} (200000), {@code sensorMessages} (50000
 * for c), {@code payload} (200 B),
 * {@code reps} (7 rounds of a and b), {@code warmup} (3 untimed rounds first), {@code sensorReps} (1 run of c),
 * {@code drain} (5000), {@code drainWarmup} (at most 3000 messages per untimed warm-up drain before each measured one),
 * {@code drainWarmupRounds} (3 such drains at most: they stop once the JIT compilers are quiet),
 * {@code drainJvmWarmupRounds} (20 drains of {@code drain} messages at most, at the highest concurrency, first), {@code conc}
 * (1,4,16,64), {@code resumeCycles} (50), {@code pollCycles} (10), {@code sensorCreates} (1000), {@code burst}
 * (10000), {@code variants} (defaults,image,image+cds), {@code starts} (3 starts to ready per variant before the
 * burst's own). Example:
 * {@code ./mvnw -Pbench verify -Dbench.args="only=2,3 messages=20000"}.
 */
public final class BenchMain {

    private final Map<String, String> cfg = new LinkedHashMap<>();
    private final StringBuilder report = new StringBuilder();
    private final List<String[]> targets = new ArrayList<>();
    private final Path out;
    private final Path jar;

    private BenchMain(String[] args) {
        for (String a : args) {
            int i = a.indexOf('=');
            if (i > 0) {
                cfg.put(a.substring(0, i), a.substring(i + 1));
            }
        }
        out = Path.of(System.getProperty("bench.out", "target/bench"));
        jar = Path.of(System.getProperty("bench.jar", "target/quotagate-0.1.0-SNAPSHOT.jar"));
    }

    public static void main(String[] args) throws Exception {
        // Parts 2 and 3 run QuotaGate's consumer and trigger in this JVM: start it as the application's main() does.
        QuotaGateApplication.giveCompletableFutureAPoolOnSmallMachines();
        // No logback.xml on this class path means DEBUG for everything; the application itself logs at INFO.
        ((ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME))
                .setLevel(ch.qos.logback.classic.Level.INFO);
        try {
            new BenchMain(args).run();
        } catch (Throwable e) {
            // Exit even when a test double left non-daemon threads behind, so the build fails instead of hanging.
            e.printStackTrace();
            System.exit(1);
        }
        System.exit(0);
    }

    private int num(String key, int dflt) {
        return Integer.parseInt(cfg.getOrDefault(key, Integer.toString(dflt)));
    }

    private boolean part(int n) {
        String only = cfg.get("only");
        return only == null || Set.of(only.split(",")).contains(Integer.toString(n));
    }

    private void run() throws Exception {
        Files.createDirectories(out);
        long started = System.nanoTime();
        header();
        flush();
        if (part(1)) {
            gateCost();
            flush();
        }
        try (NatsServer nats = NatsServer.started();
             Connection producer = Bench.connect(nats.url(), "bench-producer")) {
            if (part(2)) {
                try (KubernetesApiEmulation kubernetes = new KubernetesApiEmulation()) {
                    throughput(nats, kubernetes, producer);
                }
                flush();
            }
            Apiserver.Drain sixteen = null;
            if (part(3) || part(5)) {
                sixteen = draining(nats, producer);
                flush();
            }
            if (part(4)) {
                resume(nats, producer);
                flush();
            }
            if (part(5)) {
                apiserverLoad(nats, producer, sixteen);
                flush();
            }
            if (part(6) || part(7)) {
                burstAndFootprint(nats, producer);
                flush();
            }
        }
        summary(Duration.ofNanos(System.nanoTime() - started));
        flush();
        Bench.log("report written to %s", out.resolve("report.md"));
    }

    // ---- header --------------------------------------------------------------------------------------------

    private void header() throws Exception {
        String cpu = Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                .findFirst().map(l -> l.substring(l.indexOf(':') + 1).trim()).orElse("?");
        report.append("# QuotaGate benchmark report\n\n");
        report.append("| | |\n| --- | --- |\n");
        row("date", ZonedDateTime.now().format(DateTimeFormatter.RFC_1123_DATE_TIME));
        row("cores (nproc)", Integer.toString(Runtime.getRuntime().availableProcessors()));
        row("CPU", cpu);
        row("memory (free -h)", sh("free", "-h").lines().skip(1).findFirst().orElse("?").replaceAll("\\s+", " "));
        row("load at start (1/5/15 min)", Bench.loadAvg());
        row("Java", System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"));
        row("nats-server", sh(NatsServer.binary(), "--version").trim());
        row("jnats", io.nats.client.Nats.CLIENT_VERSION);
        row("fabric8 kubernetes-client", io.fabric8.kubernetes.client.Version.clientVersion());
        row("Spring Boot", org.springframework.boot.SpringBootVersion.getVersion());
        row("JMH", "1.37");
        row("settings", cfg.isEmpty() ? "defaults" : cfg.toString());
        report.append('\n');
    }

    private void row(String k, String v) {
        report.append("| ").append(k).append(" | ").append(v).append(" |\n");
    }

    private static String sh(String... cmd) {
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String s = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(10, TimeUnit.SECONDS);
            return s;
        } catch (Exception e) {
            return "?";
        }
    }

    // ---- 1. gate cost --------------------------------------------------------------------------------------

    private void gateCost() throws Exception {
        Bench.log("part 1: JMH");
        String load0 = Bench.loadAvg();
        Collection<RunResult> results = new Runner(new OptionsBuilder()
                .include(GateBenchmark.class.getName().replace(".", "\\.") + "\\.")
                .forks(1)
                .warmupIterations(3).warmupTime(TimeValue.seconds(1))
                .measurementIterations(5).measurementTime(TimeValue.seconds(1))
                .jvmArgs("-Xmx256m")
                .build()).run();
        report.append("## 1. Gate cost (JMH)\n\n");
        report.append("`acquire(64)` on an open gate plus `fetched(n, 0)` handing the permits back: what the fetch loop "
                + "pays the gate once per fetch. JMH 1.37, average time, 1 fork, 3 × 1 s warm-up, 5 × 1 s measurement.\n\n");
        report.append("| benchmark | ns/op | ± (99.9 %) |\n| --- | ---: | ---: |\n");
        double worst = 0;
        for (RunResult r : results) {
            String name = r.getParams().getBenchmark();
            name = name.substring(name.lastIndexOf('.') + 1);
            Result<?> primary = r.getPrimaryResult();
            if (!r.getSecondaryResults().isEmpty()) {
                for (Map.Entry<String, Result> e : r.getSecondaryResults().entrySet()) {
                    report.append("| ").append(name).append(" / ").append(e.getKey()).append(" | ")
                            .append(f1(e.getValue().getScore())).append(" | ").append(f1(e.getValue().getScoreError()))
                            .append(" |\n");
                    if (e.getKey().startsWith("acquire")) {
                        worst = Math.max(worst, e.getValue().getScore());
                    }
                }
            } else {
                report.append("| ").append(primary.getLabel()).append(" | ").append(f1(primary.getScore())).append(" | ")
                        .append(f1(primary.getScoreError())).append(" |\n");
                worst = Math.max(worst, primary.getScore());
            }
        }
        report.append("\nLoad (1/5/15 min) before: ").append(load0).append("; after: ").append(Bench.loadAvg())
                .append(". `withUpdates` runs the fetch thread against a second thread applying quota reads back to back "
                        + "(millions per second, far beyond any watch); `acquire_updates1kHz` against 1,000 reads/s.\n\n");
        targets.add(new String[] {"gate check-and-acquire", "in-memory, ns (no API call)", f1(worst) + " ns/op worst case",
                "met"});
    }

    // ---- 2. throughput -------------------------------------------------------------------------------------

    private void throughput(NatsServer nats, KubernetesApiEmulation kubernetes, Connection producer) throws Exception {
        // 200,000 messages: a run of a or b lasts about 3 s, so a JIT burst or a stall of the VM moves a round's
        // ratio by a few per cent, not by the 20-30 % seen with 50,000 (runs under a second). The original
        // sensor's pattern takes a GET per message, so (c) drains a stream of its own with the first 50,000.
        int messages = num("messages", 200_000);
        int sensorMessages = Math.min(messages, num("sensorMessages", 50_000));
        int size = num("payload", 200);
        int reps = num("reps", 7);
        Bench.log("part 2: publishing %d messages of %d B (and %d for c)", messages, size, sensorMessages);
        Bench.createStream(producer, "TPUT", "tput.>");
        Bench.publish(producer, "tput.msg", messages, size);
        Bench.createStream(producer, "TPUTC", "tputc.>");
        Bench.publish(producer, "tputc.msg", sensorMessages, size);
        kubernetes.createQuota("tput", Bench.QUOTA, Bench.RESOURCE, 1_000_000_000L);
        Throughput t = new Throughput(nats.url(), "TPUT", messages, kubernetes, "tput");
        Throughput sensor = new Throughput(nats.url(), "TPUTC", sensorMessages, kubernetes, "tput");
        List<Double> a = new ArrayList<>();
        List<Double> b = new ArrayList<>();
        List<Double> c = new ArrayList<>();
        List<String> loads = new ArrayList<>();
        List<Throughput.Run> runs = new ArrayList<>();
        int sensorReps = num("sensorReps", 1);
        List<String> warmUp = new ArrayList<>();
        List<Double> paired = new ArrayList<>();
        int warmups = num("warmup", 3);
        Throughput.Run lastA = null;
        Throughput.Run lastB = null;
        for (int i = 1 - warmups; i <= reps; i++) {
            // Rounds up to 0 warm the JIT up (all the code paths of a and b) and are reported apart, not in the
            // medians: after one round the JIT compiler still took as much CPU per message as the consumer itself.
            loads.add(Bench.loadAvg());
            // Alternate which goes first, so neither always follows the long (c) run or a quiet spell.
            Throughput.Run ra;
            Throughput.Run rb;
            if (i % 2 == 0) {
                ra = t.bare();
                rb = t.quotaGate(4);
            } else {
                rb = t.quotaGate(4);
                ra = t.bare();
            }
            Bench.log("(a) bare jnats: %s msg/s, %s µs CPU/msg; (b) QuotaGate: %s msg/s, %s µs CPU/msg%s",
                    f0(ra.rate()), f1(1000 * ra.cpuMsPerMessage()), f0(rb.rate()), f1(1000 * rb.cpuMsPerMessage()),
                    i <= 0 ? " (warm-up)" : "");
            if (i <= 0) {
                warmUp.add("a " + f0(ra.rate()) + ", b " + f0(rb.rate()));
                continue;
            }
            runs.add(ra);
            runs.add(rb);
            lastA = ra;
            lastB = rb;
            a.add(ra.rate());
            b.add(rb.rate());
            paired.add(rb.rate() / ra.rate());
            if (i <= sensorReps) {
                Throughput.Run rc = sensor.originalSensor();
                Bench.log("(c) original sensor: %s msg/s", f0(rc.rate()));
                runs.add(rc);
                c.add(rc.rate());
            }
        }
        loads.add(Bench.loadAvg());
        double ma = Bench.median(a);
        double mb = Bench.median(b);
        double mc = Bench.median(c);
        report.append("## 2. Throughput, gate open\n\n");
        report.append(String.format("%,d messages of %d B (JSON) in one stream on one nats-server; each run drains all of "
                + "them with a fresh durable consumer; (c), one GET per message, drains a stream of its own holding the "
                + "first %,d of the same messages. Timed from the first message received to the last one acked "
                + "(QuotaGate: to the last trigger call, the ack follows at once). %d warm-up rounds of a and b "
                + "first (not counted), then rounds of a and b back to back (alternating which goes first), c after the first round; median of %d runs for a and b, %d for c.%n%n",
                messages, size, sensorMessages, warmups, reps, c.size()));
        report.append("| variant | msg/s (median) | runs (msg/s) | CPU µs per message (median; this JVM) | quota GETs | all acked |\n"
                + "| --- | ---: | --- | ---: | ---: | --- |\n");
        appendRuns("(a) bare jnats pull, batch 64, `ack()` — ceiling", "a", runs, ma);
        appendRuns("(b) QuotaGate consumer, no-op trigger (concurrency 4)", "b", runs, mb);
        appendRuns("(c) original sensor: GET quota, fetch 1 (1 s), ack", "c", runs, mc);
        double pairedMedian = Bench.median(paired);
        report.append("\n**b/a = ").append(f3(pairedMedian)).append("** (median of the per-round ratios; a and b of "
                + "one round run back to back, so they share the machine's load; ratio of the medians ")
                .append(f2(mb / ma)).append(", of the best runs ").append(f2(java.util.Collections.max(b)
                        / java.util.Collections.max(a))).append("; per round: ")
                .append(String.join(", ", paired.stream().map(Bench::f2).toList())).append("), **b/c = ")
                .append(f1(mb / mc)).append("**. ");
        report.append("Warm-up rounds (msg/s): ").append(String.join("; ", warmUp)).append(". ");
        report.append("Load (1-min) at the start of each round (warm-up first) and at the end: ").append(String.join(" → ", loads))
                .append(".\n\n");
        report.append("CPU per message by thread, last round (Java threads by name; `[jvm]` = JIT compiler and GC threads, "
                + "from /proc): (a) ").append(lastA.threads()).append("; (b) ")
                .append(lastB.threads()).append(".\n\n");
        targets.add(new String[] {"b/a", "≥ 0.9", f3(pairedMedian) + " (median of per-round ratios)",
                pairedMedian >= 0.9 ? "met" : "MISSED"});
        targets.add(new String[] {"b/c", "≥ 15", f1(mb / mc), mb / mc >= 15 ? "met" : "MISSED"});
    }

    private void appendRuns(String label, String variant, List<Throughput.Run> runs, double median) {
        List<String> rates = new ArrayList<>();
        List<Double> cpu = new ArrayList<>();
        long reads = 0;
        boolean acked = true;
        int n = 0;
        for (Throughput.Run r : runs) {
            if (r.variant().equals(variant)) {
                rates.add(f0(r.rate()));
                if (!Double.isNaN(r.cpuMsPerMessage())) {
                    cpu.add(1000 * r.cpuMsPerMessage());
                }
                reads += r.quotaReads();
                acked &= r.allAcked();
                n++;
            }
        }
        report.append("| ").append(label).append(" | ").append(f0(median)).append(" | ").append(String.join(", ", rates))
                .append(" | ").append(cpu.isEmpty() ? "-" : f1(Bench.median(cpu)))
                .append(" | ").append(n == 0 ? "-" : f0((double) reads / n) + " per run").append(" | ")
                .append(acked ? "yes" : "NO").append(" |\n");
    }

    // ---- 3. draining ---------------------------------------------------------------------------------------

    /**
     * fabric8's CRUD mock scans every stored object on every request (its AttributeSet matching is most of its CPU),
     * so an emulation that keeps thousands of objects gets slower with each create, unlike a real apiserver. Each
     * run therefore gets a fresh emulation whose workflows complete 50–100 ms after creation.
     */
    private static KubernetesApiEmulation drainEmulation(Duration latency) {
        KubernetesApiEmulation k = new KubernetesApiEmulation();
        k.setCreateLatency(latency);
        k.completeAutomatically("Workflow", Duration.ofMillis(50), Duration.ofMillis(100));
        return k;
    }

    /** Messages beyond those a run of part 3 waits for: four batches of 64. */
    private static final int TAIL = 256;
    /** Compiler CPU per message below which a warm-up drain counts as warm (under a tenth of a warm create's CPU). */
    private static final double QUIET_JIT_MICROS_PER_MESSAGE = 100;

    /**
     * Untimed drains of {@code messages} at {@code concurrency}, each on a fresh emulation, until the JIT compilers
     * are quiet during one (less than {@link #QUIET_JIT_MICROS_PER_MESSAGE} of compiler CPU per message, or less
     * than 5 % of a core for slow runs) or {@code maxRounds} have run. Returns the rounds run; adds
     * "msg/s, JIT µs per message" of each to {@code rounds} when given.
     */
    private int warmUp(NatsServer nats, Duration latency, int concurrency, int messages, int maxRounds,
                       List<String> rounds) throws Exception {
        int round = 0;
        while (messages > 0 && round < maxRounds) {
            round++;
            long jit0 = Bench.compilerCpuNanos();
            long t0 = System.nanoTime();
            try (KubernetesApiEmulation k = drainEmulation(latency)) {
                Apiserver.Drain w = new Apiserver(nats.url(), k).drain("DRAIN", messages, concurrency);
                long jit = Bench.compilerCpuNanos() - jit0;
                double jitUs = jit / 1e3 / messages;
                double jitCores = (double) jit / (System.nanoTime() - t0);
                Bench.log("drain c=%d warm-up %d: %d messages, %s msg/s, JIT %s µs per message (%s %% of a core)",
                        concurrency, round, messages, f0(w.rate()), f0(jitUs), f0(100 * jitCores));
                if (rounds != null) {
                    rounds.add(f0(w.rate()) + " msg/s, JIT " + f0(jitUs) + " µs/msg");
                }
                if (jitUs < QUIET_JIT_MICROS_PER_MESSAGE || jitCores < 0.05) {
                    break;
                }
            }
        }
        return round;
    }

    private Apiserver.Drain draining(NatsServer nats, Connection producer) throws Exception {
        int messages = num("drain", 5_000);
        int warmupCap = num("drainWarmup", 3_000);
        int warmupRounds = num("drainWarmupRounds", 3);
        Duration latency = Duration.ofMillis(20);
        Bench.createStream(producer, "DRAIN", "drain.>");
        // More than a run takes, so every run ends while messages are still flowing: with the stream drained, the
        // loop's next fetch (already under way while the last batch is created) finds nothing, and its quota read
        // would count against the batches though it is no part of draining.
        Bench.publish(producer, "drain.msg", messages + TAIL, num("payload", 200));
        int[] concurrencies = java.util.Arrays.stream(cfg.getOrDefault("conc", "1,4,16,64").split(","))
                .mapToInt(Integer::parseInt).toArray();
        // The JVM first: one JVM holds the emulated apiserver, its Vert.x server, the HTTP client and QuotaGate, and
        // on two cores the C2 compiler needs some 45,000 creates to catch up with that much code. With a 3,000-message
        // warm-up per concurrency (until stop 10) it still took 0.5-1.3 ms of CPU per message inside the timed runs,
        // as much as the creates themselves. Draining at the highest concurrency gets there fastest.
        int fastest = java.util.Arrays.stream(concurrencies).max().orElse(16);
        List<String> jvmWarmup = new ArrayList<>();
        int jvmRounds = warmUp(nats, latency, fastest, messages, num("drainJvmWarmupRounds", 20), jvmWarmup);
        Bench.log("part 3: JVM warm-up done after %d drains", jvmRounds);
        report.append("## 3. Draining through the apiserver\n\n");
        report.append(String.format("QuotaGate with its Kubernetes trigger (Workflow template, one parameter) against the "
                + "emulation with a %d ms create latency; %,d messages, quota hard 1,000,000 (never near full); "
                + "batch-size 64, watch on. Fresh emulation, namespace and durable per run; workflows complete "
                + "50–100 ms after creation (see below why). The stream holds %,d more messages than a run takes, so "
                + "every run ends while messages are still flowing. The JVM is warmed up first: untimed drains of %,d "
                + "messages at concurrency %d, each on a fresh emulation, until the JIT compilers used less than %.0f µs "
                + "of CPU per message in one (at most %d; here %d: %s). Each measured run then follows untimed warm-up "
                + "drains at the same concurrency (min(%,d, 500 × concurrency) messages, until the compilers are quiet "
                + "again, at most %d). Ideal = concurrency / latency.%n%n",
                latency.toMillis(), messages, TAIL, messages, fastest, QUIET_JIT_MICROS_PER_MESSAGE,
                num("drainJvmWarmupRounds", 20), jvmRounds, String.join("; ", jvmWarmup), warmupCap, warmupRounds));
        Apiserver.Drain sixteen = null;
        double worstReadsPerBatch = 0;
        report.append("| trigger concurrency | msg/s | ideal msg/s | % of ideal | emulation ceiling creates/s | % of ceiling "
                + "| quota reads | fetched batches | reads per batch | 403 | CPU ms per message | ceiling CPU ms per create "
                + "| load (1-min) |\n"
                + "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (int c : concurrencies) {
            // An untimed drain at the same concurrency first (a fresh emulation and consumer leave the compilers a
            // queue), repeated while the compilers are still busy.
            int warm = Math.min(warmupCap, 500 * c);
            warmUp(nats, latency, c, warm, warmupRounds, null);
            String load = Bench.loadAvg();
            Apiserver.Drain d;
            try (KubernetesApiEmulation k = drainEmulation(latency)) {
                d = new Apiserver(nats.url(), k).drain("DRAIN", messages, c);
            }
            double ceiling;
            try (KubernetesApiEmulation k = drainEmulation(latency)) {
                ceiling = new Apiserver(nats.url(), k).ceiling(c, Math.min(messages, Math.max(500, 200 * c)));
            }
            double ideal = c * 1000.0 / latency.toMillis();
            double rpb = (double) d.quotaReads() / Math.max(1, d.batches());
            worstReadsPerBatch = Math.max(worstReadsPerBatch, rpb);
            double ceilingCpu = Apiserver.lastCeilingCpuMsPerCreate;
            Bench.log("drain c=%d: %s msg/s (%s%% of ideal), %d reads, %d batches, CPU %s ms/msg; ceiling %s/s, CPU %s ms/create",
                    c, f0(d.rate()), f0(100 * d.rate() / ideal), d.quotaReads(), d.batches(), f2(d.cpuMsPerMessage()),
                    f0(ceiling), f2(ceilingCpu));
            report.append("| ").append(c).append(" | ").append(f0(d.rate())).append(" | ").append(f0(ideal)).append(" | ")
                    .append(f0(100 * d.rate() / ideal)).append(" % | ").append(f0(ceiling)).append(" | ")
                    .append(f0(100 * d.rate() / ceiling)).append(" % | ").append(d.quotaReads()).append(" | ")
                    .append(d.batches()).append(" | ").append(f2(rpb)).append(" | ").append(d.rejections())
                    .append(" | ").append(f2(d.cpuMsPerMessage())).append(" | ").append(f2(ceilingCpu))
                    .append(" | ").append(load.split(" ")[0]).append(" |\n");
            if (c == 16) {
                sixteen = d;
                double pct = d.rate() / ideal;
                targets.add(new String[] {"concurrency 16 vs ideal", "≥ 80 %", f0(100 * pct) + " %",
                        pct >= 0.8 ? "met" : "MISSED"});
            }
        }
        // The yardstick for the rows above: what one create costs this machine when nothing else is in flight.
        List<Apiserver.RoundTrip> trips = new ArrayList<>();
        try (KubernetesApiEmulation k = drainEmulation(Duration.ZERO)) {
            Apiserver api = new Apiserver(nats.url(), k);
            trips.add(api.roundTrip(Duration.ZERO, 300, 200));
            trips.add(api.roundTrip(latency, 100, 200));
        }
        report.append("\nOne create at a time (same client and trigger code, fresh emulation, after untimed warm-up "
                + "creates and a quiet JIT):\n\n| create latency | creates | ms per create | over the latency | "
                + "emulation's dispatcher, ms per request | requests per create |\n| ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Apiserver.RoundTrip t : trips) {
            Bench.log("round trip at %d ms latency: %s ms per create, dispatcher %s ms per request",
                    t.latency().toMillis(), f2(t.msPerCreate()), f2(t.dispatchMsPerRequest()));
            report.append("| ").append(t.latency().toMillis()).append(" ms | ").append(t.creates()).append(" | ")
                    .append(f2(t.msPerCreate())).append(" | ").append(f2(t.msPerCreate() - t.latency().toMillis()))
                    .append(" ms | ").append(f2(t.dispatchMsPerRequest())).append(" | ").append(f2(t.requestsPerCreate()))
                    .append(" |\n");
        }
        double overhead = trips.get(1).msPerCreate() - latency.toMillis();
        report.append(String.format(Locale.ROOT, "%nAt concurrency c, creates that each take %.1f ms (20 ms plus "
                + "%.1f ms of round trip) cannot exceed c / %.1f ms: %.0f %% of the ideal, before any queueing. Of the "
                + "round trip, the emulation's dispatcher (admission, the CRUD mock) is the column above; the rest is "
                + "the HTTP client, the mock server's one Vert.x event loop and the hand-offs between their threads.%n",
                trips.get(1).msPerCreate(), overhead, trips.get(1).msPerCreate(), 100.0 * latency.toMillis()
                        / trips.get(1).msPerCreate()));
        report.append("\nEmulation ceiling: the same trigger code (template, parameters, client settings) fired from "
                + "`concurrency` plain threads on synthetic messages — no NATS, no gate, no quota monitor — on a fresh "
                + "emulation right after each QuotaGate run: the most creates per second this emulated apiserver "
                + "answers on this machine. The emulation answers every request on one Vert.x event loop and "
                + "admits creates one at a time (quota admission must be one step, as in the apiserver); JFR puts its "
                + "CPU in the CRUD mock's JSON handling, URL parsing and `AttributeSet` matching. CPU per message is this JVM's CPU time (QuotaGate, "
                + "its client and the emulation together, nats-server excluded) over the timed span, divided by the "
                + "messages: unlike msg/s it hardly depends on what else the machine runs.\n"
                + "Quota reads are GETs counted by the emulation from the first message to the last create "
                + "(set-up reads excluded); batches are fetches that returned at least one message, counted over the "
                + "same span (the first batch included).\n\n");
        targets.add(new String[] {"quota reads per fetched batch while flowing", "≤ 1", f2(worstReadsPerBatch)
                + " (worst of the four runs)", worstReadsPerBatch <= 1 ? "met" : "MISSED"});
        return sixteen;
    }

    // ---- 4. resume latency ---------------------------------------------------------------------------------

    private void resume(NatsServer nats, Connection producer) throws Exception {
        try (KubernetesApiEmulation kubernetes = new KubernetesApiEmulation()) {
            resume(nats, kubernetes, producer);
        }
    }

    private void resume(NatsServer nats, KubernetesApiEmulation kubernetes, Connection producer) throws Exception {
        int cycles = num("resumeCycles", 50);
        int pollCycles = num("pollCycles", 10);
        Bench.createStream(producer, "RESUME", "resume.>");
        Bench.publish(producer, "resume.msg", 2 * (10 + Math.max(cycles, pollCycles) + 20), 200);
        Apiserver api = new Apiserver(nats.url(), kubernetes);
        String load0 = Bench.loadAvg();
        Bench.log("part 4: resume latency, watch, %d cycles", cycles);
        Apiserver.Resume watch = api.resume("RESUME", true, cycles, Duration.ofSeconds(30));
        String load1 = Bench.loadAvg();
        Bench.log("part 4: resume latency, polling only, %d cycles (about 30 s each)", pollCycles);
        Apiserver.Resume poll = api.resume("RESUME", false, pollCycles, Duration.ofSeconds(30));
        report.append("## 4. Resume latency\n\n");
        report.append("Quota hard 10 at capacity-ratio 1.0, full, with a backlog waiting. Each cycle deletes one object "
                + "(quota controller lag 0, so the quota update that frees the unit happens inside that call) and "
                + "times until the next object has been created (create latency 0). poll-interval 30 s in both modes "
                + "(the original sensor's setting). Watch cycles start 100–300 ms after the previous create; polling "
                + "cycles at a random point of the 30 s poll period, so each costs about 30 s — hence "
                + pollCycles + " polling cycles, not 50.\n\n");
        report.append("| mode | cycles | p50 ms | p99 ms | max ms | quota reads per cycle | load (1-min) |\n"
                + "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for (Apiserver.Resume r : List.of(watch, poll)) {
            report.append("| ").append(r.mode()).append(" | ").append(r.latenciesMs().size()).append(" | ")
                    .append(f1(Bench.percentile(r.latenciesMs(), 50))).append(" | ")
                    .append(f1(Bench.percentile(r.latenciesMs(), 99))).append(" | ")
                    .append(f1(Bench.percentile(r.latenciesMs(), 100))).append(" | ")
                    .append(f2((double) r.quotaReads() / r.latenciesMs().size())).append(" | ")
                    .append((r == watch ? load0 : load1).split(" ")[0]).append(" |\n");
        }
        report.append("\np99 of ").append(watch.latenciesMs().size()).append(" samples by nearest rank is the ")
                .append(watch.latenciesMs().size() >= 100 ? "99th value" : "largest or second-largest value")
                .append(". Polling-only samples (ms): ")
                .append(String.join(", ", poll.latenciesMs().stream().map(Bench::f0).toList())).append(".\n\n");
        double p99 = Bench.percentile(watch.latenciesMs(), 99);
        targets.add(new String[] {"resume p99 with the watch", "< 1 s", f1(p99) + " ms", p99 < 1000 ? "met" : "MISSED"});
    }

    // ---- 5. apiserver load -----------------------------------------------------------------------------------

    private void apiserverLoad(NatsServer nats, Connection producer, Apiserver.Drain sixteen) throws Exception {
        try (KubernetesApiEmulation kubernetes = drainEmulation(Duration.ofMillis(20))) {
            apiserverLoad(nats, kubernetes, producer, sixteen);
        }
    }

    private void apiserverLoad(NatsServer nats, KubernetesApiEmulation kubernetes, Connection producer,
                               Apiserver.Drain sixteen) throws Exception {
        int messages = num("sensorCreates", 1_000);
        Bench.createStream(producer, "SENSOR", "sensor.>");
        Bench.publish(producer, "sensor.msg", messages, 200);
        kubernetes.setCreateLatency(Duration.ofMillis(20));
        Bench.log("part 5: original sensor with creates, %d messages", messages);
        String load = Bench.loadAvg();
        Apiserver.Drain sensor = new Apiserver(nats.url(), kubernetes).originalSensor("SENSOR", messages);
        kubernetes.setCreateLatency(Duration.ZERO);
        report.append("## 5. Apiserver load\n\n");
        report.append("Same emulation settings as part 3 (fresh, 20 ms create latency, workflows completing), quota far from full. QuotaGate: the concurrency-16 run of "
                + "part 3. Original sensor's pattern: GET quota, fetch 1 (1 s max wait), create with the same trigger "
                + "code, ack — " + messages + " messages, load " + load.split(" ")[0] + ".\n\n");
        report.append("| | messages | msg/s | quota reads per 1,000 msgs | creates per 1,000 msgs |\n"
                + "| --- | ---: | ---: | ---: | ---: |\n");
        if (sixteen != null) {
            report.append("| QuotaGate (concurrency 16) | ").append(sixteen.messages()).append(" | ")
                    .append(f0(sixteen.rate())).append(" | ")
                    .append(f1(1000.0 * sixteen.quotaReads() / sixteen.messages())).append(" | ")
                    .append(f0(1000.0 * sixteen.creates() / sixteen.messages())).append(" |\n");
        }
        report.append("| original sensor's pattern | ").append(sensor.messages()).append(" | ").append(f0(sensor.rate()))
                .append(" | ").append(f1(1000.0 * sensor.quotaReads() / sensor.messages())).append(" | ")
                .append(f0(1000.0 * sensor.creates() / sensor.messages())).append(" |\n\n");
    }

    // ---- 6 + 7. burst and footprint -------------------------------------------------------------------------

    record AppRun(String variant, String command, double readyMs, String startedLine, long rssReadyKb, int burst,
                  long created, long rejections, double appRejected, long maxUsed, double seconds, long reads,
                  long rssKb, long hwmKb, double heapUsed, double heapCommitted, String load, List<Start> starts) {

        double medianReadyMs() {
            return Bench.median(starts.stream().map(Start::readyMs).toList());
        }

        double medianCpuSeconds() {
            return Bench.median(starts.stream().map(Start::cpuSeconds).toList());
        }
    }

    /** One start of the application: wall time from spawn to ready, and the CPU it used up to then. */
    record Start(double readyMs, double cpuSeconds) {
    }

    /** The chart's default memory limit; in a pod the JVM sizes itself from the cgroup limit, here from this. */
    static final String POD_MEMORY = io.quotagate.support.ImageJvm.POD_MEMORY;

    static List<String> imageFlags() {
        return io.quotagate.support.ImageJvm.flags();
    }

    private void burstAndFootprint(NatsServer nats, Connection producer) throws Exception {
        List<AppRun> runs = new ArrayList<>();
        deleteRecursively(out.resolve("extracted")); // a jar rebuilt since the last run needs a fresh extraction
        String[] variants = cfg.getOrDefault("variants", "defaults,image,image+cds").split(",");
        for (int i = 0; i < variants.length; i++) {
            try (KubernetesApiEmulation kubernetes = new KubernetesApiEmulation()) {
                runs.add(burst(nats, kubernetes, producer, variants[i], i));
            }
        }
        int burst = runs.get(0).burst();
        report.append("## 6. Overshoot: burst at capacity-ratio 1.0\n\n");
        report.append(String.format("The real application (built jar, separate JVM, trigger concurrency 16) against "
                + "a fresh emulation per run: quota hard 75, capacity-ratio 1.0, %,d messages published at once; "
                + "workflows complete 20–300 ms after creation, the quota controller gives usage back 100 ms later. "
                + "One run per JVM variant of part 7.%n%n", burst));
        report.append("| JVM variant | messages | created | 403 exceeded quota (apiserver) | quota_rejected (app) | max used / hard | "
                + "seconds | msg/s | quota reads | reads per 1,000 msgs | load (1-min) |\n"
                + "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        long rejections = 0;
        for (AppRun r : runs) {
            rejections += r.rejections();
            report.append("| ").append(r.variant()).append(" | ").append(r.burst()).append(" | ").append(r.created())
                    .append(" | ").append(r.rejections()).append(" | ").append(f0(r.appRejected())).append(" | ")
                    .append(r.maxUsed()).append(" / 75 | ").append(f1(r.seconds())).append(" | ")
                    .append(f0(r.burst() / r.seconds())).append(" | ").append(r.reads()).append(" | ")
                    .append(f0(1000.0 * r.reads() / r.burst())).append(" | ").append(r.load()).append(" |\n");
        }
        report.append("\nAt a full quota the gate is closed most of the time, and every completion (a watch event) "
                + "is worth a read at once: that is what reopens the gate without waiting for the 30 s poll. The "
                + "throughput here is bounded by how fast workflows complete (75 slots, 20–300 ms each plus 100 ms "
                + "controller lag) and by the emulation.\n\n");
        targets.add(new String[] {"403s in the burst", "0", rejections + " (all runs)", rejections == 0 ? "met" : "MISSED"});
        report.append("## 7. Footprint\n\n");
        int startsPerVariant = runs.get(0).starts().size();
        report.append("Ready = from spawning the JVM until `/actuator/health/readiness` answers UP (NATS connected, "
                + "consumer set up), over " + startsPerVariant + " starts per variant: " + (startsPerVariant - 1)
                + " starts that are stopped once ready, then the start of part 6's run. Each is spawned once the "
                + "CPUs are at least 80 % idle (at most 30 s of waiting), so that it is not timed against the "
                + "previous run's exit. CPU to ready = user + system time of the process at that moment, from "
                + "`/proc/PID/stat`: unlike wall time it hardly depends on the machine's other load. RSS from `/proc/PID/status`, heap from `/actuator/prometheus`, "
                + "2 s after the burst's last create. Variants: **defaults** = `java -jar` with no flags (on this "
                + "24 GiB machine: G1, max heap 1/4 of RAM); **image** = the container image's JVM flags (Jib "
                + "`jvmFlags` in pom.xml) with `-XX:MaxRAM=" + POD_MEMORY + "` for the chart's memory limit: `"
                + String.join(" ", imageFlags()) + "`, run from the jar extracted with `-Djarmode=tools extract` (class "
                + "path layout, as Jib builds the image); **image+cds** = the same plus an AppCDS archive from a "
                + "training run (`-XX:ArchiveClassesAtExit`, `-Dspring.context.exit=onRefresh`).\n\n");
        report.append("| JVM variant | spawn → ready (median) | every start (ms) | CPU to ready (median) | Spring Boot's own line (part 6's start) | RSS ready | RSS after burst | peak RSS | heap used / committed | load (1-min) at spawn → ready |\n"
                + "| --- | ---: | --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |\n");
        // load column: 1-minute load at spawn → at ready
        for (AppRun r : runs) {
            report.append("| ").append(r.variant()).append(" | ").append(f0(r.medianReadyMs())).append(" ms | ")
                    .append(String.join(", ", r.starts().stream().map(st -> f0(st.readyMs())).toList())).append(" | ")
                    .append(f2(r.medianCpuSeconds())).append(" s | ")
                    .append(r.startedLine() == null ? "?" : "`" + r.startedLine() + "`").append(" | ")
                    .append(r.rssReadyKb() / 1024).append(" MB | ").append(r.rssKb() / 1024).append(" MB | ")
                    .append(r.hwmKb() / 1024).append(" MB | ").append(f0(r.heapUsed() / 1048576)).append(" / ")
                    .append(f0(r.heapCommitted() / 1048576)).append(" MB | ").append(r.load()).append(" |\n");
        }
        report.append("\nCommands:\n\n");
        for (AppRun r : runs) {
            report.append("- ").append(r.variant()).append(": `").append(r.command()).append("`\n");
        }
        report.append('\n');
        // The targets are about QuotaGate as it ships (the image); a bare `java -jar` is shown as a reference only.
        for (AppRun r : runs) {
            boolean reference = r.variant().equals("defaults");
            String label = reference ? " (reference: plain java -jar, not how the image runs)" : " (" + r.variant() + ")";
            targets.add(new String[] {"ready" + label, "< 5 s", f0(r.medianReadyMs()) + " ms (median of "
                    + r.starts().size() + ")", verdict(r.medianReadyMs() < 5000, reference)});
            targets.add(new String[] {"RSS after the burst" + label, "< 300 MB",
                    r.rssKb() / 1024 + " MB (peak " + r.hwmKb() / 1024 + " MB)", verdict(r.rssKb() / 1024 < 300, reference)});
        }
    }

    private AppRun burst(NatsServer nats, KubernetesApiEmulation kubernetes, Connection producer, String variant,
                         int index) throws Exception {
        int burst = num("burst", 10_000);
        String ns = "burst-" + index;
        String stream = "BURST" + index;
        String subject = "burst" + index + ".msg";
        Bench.createStream(producer, stream, "burst" + index + ".>");
        kubernetes.createQuota(ns, Bench.QUOTA, Bench.RESOURCE, 75);
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
        kubernetes.setCreateLatency(Duration.ZERO);
        kubernetes.completeAutomatically("Workflow", Duration.ofMillis(20), Duration.ofMillis(300));
        List<String> args = List.of("--jetstream.url=" + nats.url(), "--jetstream.stream=" + stream,
                "--kubernetes.master-url=" + kubernetes.url(), "--backpressure.quota-name=" + Bench.QUOTA,
                "--backpressure.namespace=" + ns, "--backpressure.resource-name=" + Bench.RESOURCE,
                "--backpressure.capacity-ratio=1.0", "--trigger.kubernetes.concurrency=16",
                "--trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "--trigger.kubernetes.parameters[0].src.data-key=message",
                "--trigger.kubernetes.parameters[0].dest=spec.arguments.parameters.0.value");
        List<String> flags = new ArrayList<>();
        Path runJar = jar;
        if (!variant.equals("defaults")) {
            flags.addAll(imageFlags());
            // Jib lays the image out as classes and jars on a class path, not as one nested jar; the extracted
            // layout is the same shape (and class loading from it is markedly cheaper than from the fat jar).
            Path dir = out.resolve("extracted");
            runJar = dir.resolve(jar.getFileName());
            if (!Files.exists(runJar)) {
                Bench.log("extracting %s", jar);
                run(List.of(java(), "-Djarmode=tools", "-jar", jar.toString(), "extract", "--force", "--destination",
                        dir.toString()));
            }
        }
        if (variant.endsWith("cds")) {
            Path jsa = runJar.resolveSibling("app.jsa");
            if (!Files.exists(jsa)) {
                Bench.log("training a CDS archive");
                List<String> train = new ArrayList<>(List.of(java()));
                train.addAll(flags);
                train.addAll(List.of("-XX:ArchiveClassesAtExit=" + jsa, "-Dspring.context.exit=onRefresh", "-jar",
                        runJar.toString()));
                train.addAll(args);
                run(train);
            }
            flags.add("-XX:SharedArchiveFile=" + jsa);
        }
        List<Start> starts = new ArrayList<>();
        for (int i = 0; i < num("starts", 3); i++) {
            Bench.awaitIdleCpu(0.8, Duration.ofSeconds(30));
            try (AppProcess app = new AppProcess(runJar, flags, args, out.resolve("app-" + variant + "-start.log"))) {
                starts.add(new Start(app.awaitReady(Duration.ofSeconds(90)), app.cpuSeconds()));
            }
            Bench.log("part 7 (%s): start %d ready after %.0f ms, %.2f s CPU", variant, i + 1,
                    starts.get(i).readyMs(), starts.get(i).cpuSeconds());
        }
        Bench.awaitIdleCpu(0.8, Duration.ofSeconds(30));
        Bench.log("part 6/7 (%s): starting %s", variant, runJar);
        String loadAtSpawn = Bench.loadAvg().split(" ")[0];
        long creates0 = kubernetes.successfulCreates();
        long rejections0 = kubernetes.exceededQuotaRejections();
        try (AppProcess app = new AppProcess(runJar, flags, args, out.resolve("app-" + variant + ".log"))) {
            double readyMs = app.awaitReady(Duration.ofSeconds(90));
            starts.add(new Start(readyMs, app.cpuSeconds()));
            String startedLine = app.startedLine();
            long rssReady = app.procStatusKb("VmRSS");
            String load0 = loadAtSpawn + " → " + Bench.loadAvg().split(" ")[0];
            Bench.log("ready after %.0f ms (%s), RSS %d MB", readyMs, startedLine, rssReady / 1024);
            Thread.sleep(1000);
            long reads0 = kubernetes.quotaReads();
            long t0 = System.nanoTime();
            Bench.publish(producer, subject, burst, 200);
            long end = System.nanoTime() + Duration.ofMinutes(10).toNanos();
            while (kubernetes.successfulCreates() - creates0 < burst && System.nanoTime() < end) {
                Thread.sleep(20);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            long reads = kubernetes.quotaReads() - reads0;
            Thread.sleep(2000);
            AppRun r = new AppRun(variant, String.join(" ", app.command.subList(0, app.command.indexOf("-jar") + 2))
                    .replace(Path.of("").toAbsolutePath() + "/", "").replace(java(), "java"),
                    readyMs, startedLine, rssReady, burst, kubernetes.successfulCreates() - creates0,
                    kubernetes.exceededQuotaRejections() - rejections0,
                    app.prometheus("quotagate_messages_total", "outcome=\"quota_rejected\""),
                    kubernetes.maxUsed(ns, Bench.QUOTA, Bench.RESOURCE), seconds, reads,
                    app.procStatusKb("VmRSS"), app.procStatusKb("VmHWM"),
                    app.prometheus("jvm_memory_used_bytes", "area=\"heap\""),
                    app.prometheus("jvm_memory_committed_bytes", "area=\"heap\""), load0, List.copyOf(starts));
            Bench.log("burst (%s): %d created, %d x 403, max used %d, %.1f s, RSS %d MB", variant, r.created(),
                    r.rejections(), r.maxUsed(), seconds, r.rssKb() / 1024);
            return r;
        } finally {
            kubernetes.stopCompleting();
        }
    }

    private static String verdict(boolean met, boolean reference) {
        return reference ? (met ? "within" : "above") : (met ? "met" : "MISSED");
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (var paths = Files.walk(dir)) {
            for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private void run(List<String> command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true)
                .redirectOutput(out.resolve("cds-training.log").toFile()).start();
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            p.destroyForcibly();
            throw new IllegalStateException("timed out: " + command);
        }
    }

    // ---- summary -----------------------------------------------------------------------------------------------

    private void summary(Duration took) {
        report.append("## Targets\n\n| target | goal | measured | |\n| --- | --- | --- | --- |\n");
        for (String[] t : targets) {
            report.append("| ").append(String.join(" | ", t)).append(" |\n");
        }
        report.append("\nWhole run: ").append(took.toMinutes()).append(" min ").append(took.toSecondsPart())
                .append(" s; load at the end ").append(Bench.loadAvg()).append(".\n");
    }

    private void flush() throws IOException {
        Files.writeString(out.resolve("report.md"), report.toString());
    }
}
