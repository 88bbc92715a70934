package io.quotagate.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import io.quotagate.reliability.Replicas;
import io.quotagate.support.QuotaGateEnvironment;

import static io.quotagate.bench.Bench.f0;
import static io.quotagate.bench.Bench.f1;
import static io.quotagate.bench.Bench.f2;
import static io.quotagate.bench.Bench.f3;

/**
 * Part 7 (issue 20): the full-quota burst through 1 and through 3 replicas, each a service JVM started as the image
 * starts it ({@link Replicas}, the procedure ReplicasIT asserts on), so what is measured is the whole service with
 * its coordination, not a rig. Its own nats-server and emulation ({@link QuotaGateEnvironment}): the coordination
 * bucket's stream then counts only these runs' writes.
 *
 * <p>Options: {@code replicaMessages} (3000), {@code replicaQuota} (75), {@code replicaRounds} (2; rounds
 * alternate which count goes first; each burst is a row, and the ratios pool every burst of a count), {@code replicaCounts} ({@code 1,3}; {@code 1} alone compares
 * one replica across builds, with no ratio and no targets).
 */
final class ReplicasBench {

    /** The report's section and the rows it adds to the targets table. */
    record Outcome(String section, List<String[]> targets) {
    }

    private final Map<String, String> cfg;

    ReplicasBench(Map<String, String> cfg) {
        this.cfg = cfg;
    }

    private int num(String key, int dflt) {
        return Integer.parseInt(cfg.getOrDefault(key, Integer.toString(dflt)));
    }

    Outcome run() {
        int messages = num("replicaMessages", 3_000);
        int hard = num("replicaQuota", 75);
        int rounds = num("replicaRounds", 2);
        boolean both = !"1".equals(cfg.getOrDefault("replicaCounts", "1,3"));
        Path dir = Path.of(System.getProperty("bench.out", "target/bench"), "replicas");
        List<Replicas.Burst> one = new ArrayList<>();
        List<Replicas.Burst> three = new ArrayList<>();
        String load = Bench.loadAvg();
        QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(hard);
        try {
            // As ReplicasIT: the quota is full almost throughout, a burst takes some 10-20 s.
            env.kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
            env.kubernetes.setCreateLatency(Duration.ofMillis(5));
            env.kubernetes.completeAutomatically("Workflow", Duration.ofMillis(20), Duration.ofMillis(200));
            // Untimed first, as in ReplicasIT: the emulation's JIT in this JVM would favour the later bursts.
            // Without the tests' per-message debug lines: measured as users run it.
            Bench.log("part 7: warm-up %s", Replicas.burst(env, dir, "warm-up", 1, messages / 2, Replicas.UNTRACED));
            for (int i = 0; i < rounds; i++) {
                for (int n : !both ? new int[] {1} : i % 2 == 0 ? new int[] {1, 3} : new int[] {3, 1}) {
                    Bench.log("part 7: burst of %d messages through %d replica(s), round %d", messages, n, i + 1);
                    Replicas.Burst b = Replicas.burst(env, dir, "r" + i + "-" + n, n, messages, Replicas.UNTRACED);
                    Bench.log("part 7: %s", b);
                    (n == 1 ? one : three).add(b);
                }
            }
        } finally {
            try {
                env.afterAll(null);
            } catch (Exception e) {
                Bench.log("part 7: tearing the environment down: %s", e);
            }
        }
        StringBuilder r = new StringBuilder("## 7. Replicas: 1 vs 3 on one durable and one quota (issue 20)\n\n");
        r.append(String.format("The full-quota burst of ReplicasIT: %,d messages, quota hard %d at capacity-ratio 1.0, "
                + "each replica a service JVM started as the container image starts it (trigger concurrency 8, "
                + "batch-size 64, watch on, poll 30 s), all on one durable. Create latency 5 ms; workflows complete "
                + "20–200 ms after creation and the quota controller gives their slot back 100 ms later. The "
                + "replicas are started and first work an untimed tenth as many messages per replica (replicas in a "
                + "cluster are long-running: their JIT is warm), then they are paused while the messages are "
                + "published and resumed together: seconds "
                + "from the resume to the last create. Quota GETs (and lists) are counted by the emulation over "
                + "that span; coordination writes are the messages stored in the coordination bucket's stream "
                + "(`%s`) over it, heartbeats included. Mean used is the quota's `used` as admission saw it, averaged "
                + "over the span (by Little's law, throughput is mean used ÷ how long an object stays in `used`); a "
                + "slot freed by the controller waits for a quota GET, then for the reading to reach a gate, a "
                + "fetch and the create that fills it. The services log at their default levels. An untimed burst of half as many messages through one replica "
                + "first, then %d round(s)%s; load (1-min) %s at the start. Every JVM, "
                + "nats-server and the emulation share the machine's cores.%n%n",
                messages, hard, Replicas.COORDINATION_STREAM, rounds, rounds > 1 ? ", alternating which count goes first; "
                        + "the ratios pool the bursts of each count (messages ÷ seconds over all of them)" : "", load.split(" ")[0]));
        r.append("| round | replicas | seconds | msg/s | created | 403 exceeded quota | quota GETs "
                + "| coordination writes | writes per created object | mean used | freed slot: ms to a GET | then ms "
                + "to its create | lost | duplicated |\n"
                + "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        List<Replicas.Burst> all = new ArrayList<>();
        for (int i = 0; i < rounds; i++) {
            all.add(one.get(i));
            if (both) {
                all.add(three.get(i));
            }
        }
        for (int i = 0; i < all.size(); i++) {
            row(r, 1 + i / (both ? 2 : 1), all.get(i));
        }
        List<String[]> targets = new ArrayList<>();
        if (!both) {
            r.append("\nOne replica only (`replicaCounts=1`): ").append(f0(rate(one))).append(" msg/s over all bursts.\n\n");
            return new Outcome(r.toString(), targets);
        }
        double pace = rate(three) / rate(one);
        double reads = (double) reads(three) / Math.max(1, reads(one));
        long rejections = three.stream().mapToLong(Replicas.Burst::rejections).sum();
        r.append("\n3 replicas ÷ 1: throughput ").append(f3(pace)).append(" (").append(f0(rate(three))).append(" vs ")
                .append(f0(rate(one))).append(" msg/s), quota GETs ").append(f2(reads))
                .append(". Logs of every replica: `target/bench/replicas/`.\n\n");
        targets.add(new String[] {"3 replicas: 403 exceeded quota (ratio 1.0)", "0", Long.toString(rejections),
                rejections == 0 ? "met" : "MISSED"});
        targets.add(new String[] {"3 replicas: throughput ÷ 1 replica's", "≥ 0.9", f3(pace), pace >= 0.9 ? "met" : "MISSED"});
        targets.add(new String[] {"3 replicas: quota GETs ÷ 1 replica's", "≤ 1.5", f2(reads), reads <= 1.5 ? "met" : "MISSED"});
        return new Outcome(r.toString(), targets);
    }

    /** Messages per second over all of {@code bursts}. */
    private static double rate(List<Replicas.Burst> bursts) {
        return bursts.stream().mapToInt(Replicas.Burst::messages).sum()
                / bursts.stream().mapToDouble(Replicas.Burst::seconds).sum();
    }

    private static long reads(List<Replicas.Burst> bursts) {
        return bursts.stream().mapToLong(Replicas.Burst::quotaReads).sum();
    }

    private static void row(StringBuilder r, int round, Replicas.Burst b) {
        r.append("| ").append(round).append(" | ").append(b.replicas()).append(" | ").append(f1(b.seconds()))
                .append(" | ").append(f0(b.rate())).append(" | ").append(b.created()).append(" | ")
                .append(b.rejections()).append(" | ").append(b.quotaReads()).append(" | ")
                .append(b.coordinationWrites() < 0 ? "– (no bucket)" : Long.toString(b.coordinationWrites()))
                .append(" | ").append(b.coordinationWrites() < 0 ? "–" : f2(b.writesPerCreate())).append(" | ")
                .append(f1(b.slots().meanUsed())).append(" | ").append(f1(b.slots().readingMs())).append(" | ")
                .append(f1(b.slots().waitMs() - b.slots().readingMs())).append(" | ")
                .append(b.audit().lost().size()).append(" | ").append(b.audit().duplicated().size()).append(" |\n");
    }
}
