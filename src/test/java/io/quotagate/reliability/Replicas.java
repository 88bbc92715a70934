package io.quotagate.reliability;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.nats.client.JetStreamApiException;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.ServiceProcess;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.kubernetes.SlotTimeline;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.awaitility.Awaitility.await;

/**
 * Issue 20: several service JVMs ({@link ServiceProcess}) on one durable, as replicas of a Deployment run, and the
 * full-quota burst measured across them. Shared by the replica ITs and the benchmark's part 7, so the figures the
 * report prints come from the same procedure the tests assert on.
 */
public final class Replicas implements AutoCloseable {

    /** The durable every replica shares; the coordination bucket is named from it. */
    public static final String DURABLE = "quotagate";
    public static final String COORDINATION_STREAM = "KV_quotagate-coord-" + DURABLE;

    /**
     * Which replica did what to each message, for the audit's twins: one log line per settlement and look-up. On in
     * the tests; a benchmark turns them off ({@link #UNTRACED}), as users run.
     */
    static final List<String> TRACE = List.of("--logging.level.io.quotagate.consumer.Settler=DEBUG",
            "--logging.level.io.quotagate.ledger=DEBUG");

    /** {@link #TRACE}'s loggers at the service's own level: pass as {@code more} to a burst that measures. */
    public static final String[] UNTRACED =
            TRACE.stream().map(t -> t.replace("=DEBUG", "=INFO")).toArray(String[]::new);

    /**
     * What every replica runs with: ratio 1.0 (no margin for a race), concurrency 8 as in FullCapacityBurstIT, and
     * short timeouts so a fault is redelivered within seconds, not the defaults' 30 s.
     */
    static final List<String> COMMON = List.of("--backpressure.capacity-ratio=1.0", "--jetstream.durable=" + DURABLE,
            "--jetstream.ack-wait=5s", "--trigger.kubernetes.request-timeout=2s", "--jetstream.retry-backoff-max=2s",
            "--jetstream.reconnect-wait=200ms", "--trigger.kubernetes.concurrency=8", TRACE.get(0), TRACE.get(1));

    private final List<ServiceProcess> processes = new ArrayList<>();
    private final List<Http> http = new ArrayList<>();

    private Replicas() {
    }

    /**
     * Starts {@code n} replicas (logs {@code dir/<name>-<i>.log}) and waits until each serves HTTP, has read the
     * quota and, where coordination exists, sees all {@code n} members.
     */
    public static Replicas start(QuotaGateEnvironment env, Path dir, String name, int n, String... more) {
        Replicas r = new Replicas();
        List<String> args = new ArrayList<>();
        for (String common : COMMON) {
            String key = common.substring(0, common.indexOf('=') + 1);
            if (java.util.Arrays.stream(more).noneMatch(m -> m.startsWith(key))) {
                args.add(common); // a setting of the caller's own replaces the common one (Spring would join both)
            }
        }
        args.addAll(List.of(more));
        for (int i = 0; i < n; i++) {
            r.processes.add(ServiceProcess.start(env, dir.resolve(name + "-" + i + ".log"), args.toArray(String[]::new)));
        }
        try {
            for (ServiceProcess p : r.processes) {
                // Generous: three JVMs start at once on two cores.
                r.http.add(new Http(p.awaitPort(Duration.ofSeconds(180))));
            }
            for (Http h : r.http) {
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                        .until(() -> {
                            JsonNode checked = h.getJson("/api/quota").path("lastCheckedAt");
                            return !checked.isNull() && !checked.isMissingNode();
                        });
                await().atMost(Duration.ofSeconds(60)).ignoreExceptions()
                        .until(() -> coordination(h) == null || members(h).size() == n);
            }
        } catch (RuntimeException e) {
            r.close();
            throw e;
        }
        return r;
    }

    public int size() {
        return processes.size();
    }

    public ServiceProcess process(int i) {
        return processes.get(i);
    }

    public Http http(int i) {
        return http.get(i);
    }

    /** {@code /api/quota.coordination}, or null where the service has none (before issue 20). */
    public static JsonNode coordination(Http h) {
        JsonNode c = h.getJson("/api/quota").get("coordination");
        return c == null || c.isNull() ? null : c;
    }

    /** The member ids this replica lists; fails where there is no coordination. */
    public static List<String> members(Http h) {
        JsonNode c = coordination(h);
        if (c == null) {
            throw new AssertionError("no coordination in /api/quota: the service shares no permits between replicas");
        }
        List<String> ids = new ArrayList<>();
        c.path("members").forEach(m -> ids.add(m.path("id").asString()));
        return ids;
    }

    /** The ids of removed members whose share still counts, as one member's {@code /api/quota} shows them. */
    public static List<String> departed(Http h) {
        JsonNode c = coordination(h);
        List<String> ids = new ArrayList<>();
        if (c != null) {
            c.path("departed").forEach(d -> ids.add(d.path("id").asString()));
        }
        return ids;
    }

    public void pause() {
        http.forEach(h -> h.postJson("/actuator/consumer", "{\"state\":\"PAUSED\"}"));
    }

    public void resume() {
        http.forEach(h -> h.postJson("/actuator/consumer", "{\"state\":\"RESUMED\"}"));
    }

    /** Messages created by replica {@code i} as it counts them; 0 once it is gone. */
    public double created(int i) {
        if (!processes.get(i).process().isAlive()) {
            return 0;
        }
        double v = http.get(i).metric("quotagate_messages_total{application=\"quotagate\",outcome=\"created\"}");
        return Double.isNaN(v) ? 0 : v;
    }

    /**
     * Each replica's log lines about these stream sequences (settlements, look-ups), for a failure message: with
     * objects that delete themselves, the logs are the only place that says which replica created a twin and when.
     */
    public String trace(java.util.Collection<Long> seqs) {
        return trace(processes, seqs);
    }

    /** {@link #trace(java.util.Collection)} over any service JVMs, numbered in list order. */
    static String trace(List<ServiceProcess> processes, java.util.Collection<Long> seqs) {
        StringBuilder out = new StringBuilder();
        for (long seq : new java.util.TreeSet<>(seqs)) {
            java.util.regex.Pattern p = java.util.regex.Pattern.compile("#" + seq + "\\b");
            for (int i = 0; i < processes.size(); i++) {
                for (String line : processes.get(i).log().split("\n")) {
                    if (p.matcher(line).find()) {
                        out.append("replica ").append(i).append(": ").append(line, 0, Math.min(line.length(), 300))
                                .append('\n');
                    }
                }
            }
        }
        return out.toString();
    }

    /** SIGTERM to every replica still alive, all at once, and up to a minute for them to exit. */
    @Override
    public void close() {
        processes.forEach(p -> p.process().destroy());
        for (ServiceProcess p : processes) {
            try {
                if (!p.process().waitFor(60, TimeUnit.SECONDS)) {
                    p.process().destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.process().destroyForcibly();
            }
        }
    }

    /** Messages written to the coordination bucket's stream so far; -1 while it does not exist. */
    public static long coordinationWrites(QuotaGateEnvironment env) {
        try {
            return env.producer.connection().jetStreamManagement().getStreamInfo(COORDINATION_STREAM)
                    .getStreamState().getLastSequence();
        } catch (JetStreamApiException e) {
            return -1;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * One full-quota burst: {@code messages} at the quota of {@code env} (capacity-ratio 1.0) through {@code n} fresh
     * replicas. The replicas are paused while the messages are published and resumed together, so every replica
     * starts with the whole backlog and the clock starts at the resume; it stops at the last create. Quota GETs
     * and coordination writes are counted over the same span. Waits until the durable is drained and the quota is
     * back to 0 used, then stops the replicas, so bursts can follow each other in one environment.
     */
    public static Burst burst(QuotaGateEnvironment env, Path dir, String name, int n, int messages, String... more) {
        KubernetesApiEmulation k = env.kubernetes;
        Audit audit = new Audit(name, env.producer, k, STREAM, null);
        try (Replicas r = start(env, dir, name, n, more)) {
            // Replicas in a cluster run for hours: a burst finds their JIT warm. Fresh JVMs compiling at once (three
            // on two cores) would time start-up, not coordination. So each JVM first works an untimed tenth: a tenth
            // per JVM, not per set (a set's tenth left each of three a third of one replica's warm-up, and they were
            // still compiling in the timed burst: 0.7-0.9 s of C1 each against 0.5 s for one replica).
            long warmRejections0 = k.exceededQuotaRejections();
            Audit warm = new Audit(name + "-warm-up", env.producer, k, STREAM, null);
            List<Long> warmSeqs = warm.publishJson(SUBJECT, Math.max(1, messages / 10) * n);
            await().atMost(Duration.ofMinutes(2)).until(() -> warm.objects().keySet().containsAll(warmSeqs));
            env.awaitDrained(Duration.ofSeconds(120));
            await().atMost(Duration.ofSeconds(60)).until(() -> k.used(NAMESPACE, QUOTA, RESOURCE) == 0);
            long warmRejections = k.exceededQuotaRejections() - warmRejections0;
            r.pause();
            await().atMost(Duration.ofSeconds(30)).until(() -> r.http.stream().allMatch(
                    h -> "PAUSED".equals(h.getJson("/actuator/consumer").path("state").asString())));
            audit.publishJson(SUBJECT, messages);
            long creates0 = k.successfulCreates();
            long rejections0 = k.exceededQuotaRejections();
            long reads0 = k.quotaReads();
            long writes0 = coordinationWrites(env);
            SlotTimeline slots = k.slotTimeline(NAMESPACE, QUOTA, RESOURCE);
            long t0 = System.nanoTime();
            r.resume();
            await().atMost(Duration.ofMinutes(4)).pollInterval(Duration.ofMillis(20))
                    .until(() -> k.successfulCreates() - creates0 >= messages);
            double seconds = (System.nanoTime() - t0) / 1e9;
            long reads = k.quotaReads() - reads0;
            long writes = coordinationWrites(env) - Math.max(0, writes0);
            long rejections = k.exceededQuotaRejections() - rejections0 + warmRejections; // a 403 is a 403
            env.awaitDrained(Duration.ofSeconds(120));
            await().atMost(Duration.ofSeconds(60)).until(() -> k.used(NAMESPACE, QUOTA, RESOURCE) == 0);
            Audit.Result audited = audit.result(DURABLE);
            return new Burst(n, messages, k.successfulCreates() - creates0, rejections, seconds, reads,
                    coordinationWrites(env) < 0 ? -1 : writes, k.maxUsed(NAMESPACE, QUOTA, RESOURCE), audited,
                    slots.summary(t0, t0 + (long) (seconds * 1e9), env.hard));
        }
    }

    /**
     * @param created   objects created by the apiserver during the burst (more than {@code messages} means twins)
     * @param rejections creates refused with 403 exceeded quota
     * @param seconds   from the resume to the last create
     * @param quotaReads quota GETs and lists over the same span
     * @param coordinationWrites messages stored in the coordination bucket's stream over it; -1 without a bucket
     * @param slots      how long freed slots waited to be filled, and the mean {@code used}: where the time went
     */
    public record Burst(int replicas, int messages, long created, long rejections, double seconds, long quotaReads,
                        long coordinationWrites, long maxUsed, Audit.Result audit,
                        SlotTimeline.Summary slots) {
        public double rate() {
            return messages / seconds;
        }

        public double writesPerCreate() {
            return coordinationWrites < 0 ? Double.NaN : (double) coordinationWrites / Math.max(1, created);
        }

        @Override
        public String toString() {
            return String.format(java.util.Locale.ROOT, "[replicas %d] %d messages in %.1f s = %.0f msg/s, %d created, "
                            + "%d x 403, %d quota GETs, %s coordination writes (%s per created object), max used %d; %s",
                    replicas, messages, seconds, rate(), created, rejections, quotaReads,
                    coordinationWrites < 0 ? "no bucket, 0" : Long.toString(coordinationWrites),
                    coordinationWrites < 0 ? "0" : String.format(java.util.Locale.ROOT, "%.2f", writesPerCreate()),
                    maxUsed, slots);
        }
    }
}
