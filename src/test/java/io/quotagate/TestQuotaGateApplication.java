package io.quotagate;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import io.nats.client.api.DiscardPolicy;
import io.nats.client.api.StorageType;
import io.nats.client.api.StreamConfiguration;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.springframework.boot.SpringApplication;
import org.springframework.context.ConfigurableApplicationContext;

/**
 * The sandbox, started by {@code ./mvnw spring-boot:test-run}: the real service against its own
 * nats-server (binary from PATH, free port) and the in-process Kubernetes API emulation, fed by a small
 * demo publisher. A quota of 10 workflows at capacity-ratio 0.8 (threshold 8) with workflows that
 * complete after 5–15 s makes the gate close and reopen within the first minute: watch /api/quota.
 * A second quota, {@code team-quota}, is tightened from 20 to 5 workflows (threshold 4) for one minute in every
 * two, as a platform team might during maintenance: {@code limitedBy} in /api/quota moves to it and back, and
 * {@code limits[]} shows both. The gate reads every resource a Workflow is charged (resource-name empty, the default).
 */
public final class TestQuotaGateApplication {

    static final String NAMESPACE = "sandbox";
    static final String QUOTA = "workflow-quota";
    /** The second limit: the same resource, a quota of its own whose hard changes while the sandbox runs. */
    static final String TEAM_QUOTA = "team-quota";
    static final long TEAM_RELAXED = 20;
    static final long TEAM_TIGHTENED = 5;
    static final Duration TEAM_QUOTA_PERIOD = Duration.ofSeconds(60);
    static final String RESOURCE = "count/workflows.argoproj.io";

    private TestQuotaGateApplication() {
    }

    public static void main(String[] args) {
        NatsServer nats = NatsServer.started();
        KubernetesApiEmulation kubernetes = new KubernetesApiEmulation();
        kubernetes.createQuota(NAMESPACE, QUOTA, RESOURCE, 10);
        kubernetes.createQuota(NAMESPACE, TEAM_QUOTA, RESOURCE, TEAM_RELAXED);
        kubernetes.setQuotaControllerLag(Duration.ofSeconds(1));
        kubernetes.completeAutomatically("Workflow", Duration.ofSeconds(5), Duration.ofSeconds(15));
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            kubernetes.close();
            nats.close();
        }, "sandbox-teardown"));

        JetStreamTestClient publisher = new JetStreamTestClient(nats.url());
        // An Argo Events EventBus keeps messages by limits and discards the oldest: the status page shows the room left.
        try {
            publisher.connection().jetStreamManagement().addStream(StreamConfiguration.builder().name("EVENTS")
                    .subjects("events.>").storageType(StorageType.File).maxMessages(1000)
                    .discardPolicy(DiscardPolicy.Old).build());
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
        // Dead letters are stored, so the sandbox shows them (and a poison message is not kept pending for want of one).
        publisher.createStream("DEADLETTER", "deadletter.>");

        List<String> all = new ArrayList<>(List.of(
                "--jetstream.url=" + nats.url(),
                "--jetstream.stream=EVENTS",
                "--jetstream.dead-letter-subject=deadletter.quotagate",
                "--kubernetes.master-url=" + kubernetes.url(),
                "--backpressure.quota-name=" + QUOTA,
                "--backpressure.namespace=" + NAMESPACE,
                "--backpressure.quota-names=" + TEAM_QUOTA,
                "--backpressure.capacity-ratio=0.8",
                "--backpressure.poll-interval=30s",
                "--trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "--trigger.kubernetes.parameters[0].src.data-key=message",
                "--trigger.kubernetes.parameters[0].dest=spec.arguments.parameters.0.value"));
        all.addAll(List.of(args));
        ConfigurableApplicationContext context = SpringApplication.run(QuotaGateApplication.class, all.toArray(String[]::new));
        String port = context.getEnvironment().getProperty("local.server.port", "8080");

        publishDemo(publisher);
        alternateTeamQuota(kubernetes);
        System.out.printf("%n  Status page:      http://localhost:%s/%n"
                + "%n  QuotaGate sandbox is up. NATS %s, Kubernetes emulation %s%n"
                + "  Quota %s/%s: hard 10, capacity-ratio 0.8 -> threshold 8; workflows complete after 5-15 s.%n"
                + "  Quota %s: hard %d, down to %d (threshold 4) for one minute in every two: it binds then.%n"
                + "  Watch the gate:   curl -s localhost:%s/api/quota | jq '{blocked, limitedBy, limits}'%n"
                + "  Blocked gauge:    curl -s localhost:%s/actuator/prometheus | grep quota_blocked%n"
                + "  Pause / resume:   curl -s -XPOST -H 'Content-Type: application/json' -d '{\"state\":\"PAUSED\"}' localhost:%s/actuator/consumer%n%n",
                port, nats.url(), kubernetes.url(), NAMESPACE, QUOTA, TEAM_QUOTA, TEAM_RELAXED, TEAM_TIGHTENED,
                port, port, port);
    }

    /**
     * The second limit binding at times: team-quota (threshold 16 while relaxed, so workflow-quota's 8 binds) is
     * tightened to threshold 4 for one period, then relaxed for one, for as long as the sandbox runs.
     */
    private static void alternateTeamQuota(KubernetesApiEmulation kubernetes) {
        AtomicInteger flips = new AtomicInteger();
        ScheduledExecutorService team = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sandbox-team-quota");
            t.setDaemon(true);
            return t;
        });
        long period = TEAM_QUOTA_PERIOD.toMillis();
        team.scheduleAtFixedRate(() -> {
            long hard = flips.getAndIncrement() % 2 == 0 ? TEAM_TIGHTENED : TEAM_RELAXED;
            try {
                kubernetes.setHard(NAMESPACE, TEAM_QUOTA, RESOURCE, hard);
                System.out.printf("  [sandbox] %s/%s hard -> %d%n", NAMESPACE, TEAM_QUOTA, hard);
            } catch (RuntimeException e) {
                // A failed flip must not end the schedule (the emulation may be closing on shutdown).
                System.out.printf("  [sandbox] could not set %s hard: %s%n", TEAM_QUOTA, e);
            }
        }, period, period, TimeUnit.MILLISECONDS);
    }

    /** A burst that fills the quota at once, then a steady trickle a little faster than workflows complete. */
    private static void publishDemo(JetStreamTestClient publisher) {
        publisher.publish("events.demo", 0, 20);
        AtomicInteger next = new AtomicInteger(20);
        ScheduledExecutorService demo = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "sandbox-demo-publisher");
            t.setDaemon(true);
            return t;
        });
        demo.scheduleAtFixedRate(() -> {
            int i = next.getAndIncrement();
            if (i >= 600) {
                demo.shutdown();
                return;
            }
            publisher.publishRaw("events.demo", ("{\"message\":\"demo-" + i + "\"}").getBytes(StandardCharsets.UTF_8));
        }, 1500, 1500, TimeUnit.MILLISECONDS);
    }
}
