package io.quotagate.reliability;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import org.assertj.core.api.SoftAssertions;
import tools.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import io.quotagate.support.ServiceJvms;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Issue 20, the second "done when": one of three replicas SIGKILLed mid-burst (quota 75, capacity-ratio 1.0) loses
 * nothing, the survivors finish, and its share of the permits returns within {@code backpressure.coordination.lease}
 * + 2 s: the time from the kill until the killed member is gone from the survivors' {@code /api/quota} members is
 * measured and printed.
 *
 * <p>The kill comes as in CreatedRecordCrashIT: creates are refused with 503 first, and the kill waits until every
 * create that succeeded has been answered and recorded. A create in flight at the kill (the apiserver stored the
 * object, the answer never arrived) is the one case no record can cover (docs/reliability.md), and with objects that
 * delete themselves within 200 ms its redelivery would be a twin that says nothing about replicas. The victim still
 * holds fetched, unacked messages and their permits when it dies; the 503s stop right after the kill.
 *
 * <p>The victim is the member that reads the quotas for all: with it gone, the survivors hear only each other's
 * heartbeats until one of them takes over, which is when a member's sense of time is tested hardest.
 */
@ServiceJvms
class ReplicaKillIT {

    static final Path DIR = Path.of("target", "replica-kill-it");
    static final Duration LEASE = Duration.ofSeconds(4);
    /**
     * As long as the lease (the default has both at 10 s): the bound must not depend on it. Before creates ended
     * within the lease, the share came back a lease and a request timeout after the kill, 8 s and more here.
     */
    static final Duration REQUEST_TIMEOUT = LEASE;
    static final int MESSAGES = 1_500;

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(75);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;

    static {
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
        kubernetes.setCreateLatency(Duration.ofMillis(5));
        kubernetes.completeAutomatically("Workflow", Duration.ofMillis(20), Duration.ofMillis(200));
    }

    @Test
    void aKilledReplicaLosesNothingAndItsPermitsReturnWithinTheLease() throws Exception {
        Audit audit = new Audit("replica-kill", env.producer, kubernetes, STREAM, null);
        SoftAssertions soft = new SoftAssertions();
        // A removed member's share stays counted a second after its removal: its creates ended within its lease, and
        // one may still be stored just after (docs/reliability.md). Its permits are back with the first reading then.
        try (Replicas r = Replicas.start(env, DIR, "kill", 3, "--backpressure.coordination.lease=" + LEASE.toSeconds() + "s",
                "--trigger.kubernetes.request-timeout=" + REQUEST_TIMEOUT.toSeconds() + "s")) {
            // The quota reader is the victim: its death takes the shared readings with it, the harder case.
            int v = readerIndex(r);
            int a = (v + 1) % 3;
            int b = (v + 2) % 3;
            List<Long> seqs = audit.publishJson(SUBJECT, MESSAGES);
            await().atMost(Duration.ofMinutes(2)).until(() -> r.created(v) >= 50
                    && CreatedRecordProbe.createdFor(kubernetes, seqs) >= MESSAGES / 5);

            kubernetes.failCreates(503);
            await().atMost(Duration.ofSeconds(60)).until(() -> r.created(0) + r.created(1) + r.created(2)
                    == CreatedRecordProbe.createdFor(kubernetes, seqs)
                    && CreatedRecordProbe.recordedAll(env.producer.connection(), Replicas.DURABLE, kubernetes, seqs));
            long createdByVictim = (long) r.created(v);
            boolean coordinated = Replicas.coordination(r.http(a)) != null;
            List<String> before = coordinated ? Replicas.members(r.http(a)) : List.of();
            // The victim's own id where the service shows it; else the one id that disappears.
            String victimId = coordinated ? Replicas.coordination(r.http(v)).path("self").asString(null) : null;
            String reader = coordinated ? Replicas.coordination(r.http(a)).path("reader").asString(null) : null;
            System.out.println("[replica kill] a survivor's coordination before the kill: "
                    + (coordinated ? Replicas.coordination(r.http(a)) : "none"));

            long killed = System.nanoTime();
            r.process(v).process().destroyForcibly(); // SIGKILL
            assertThat(r.process(v).process().waitFor(30, TimeUnit.SECONDS)).isTrue();
            kubernetes.clearCreateFailures();

            double goneAfter = Double.NaN;
            double backAfter = Double.NaN;
            List<String> gone = new ArrayList<>();
            if (coordinated) {
                // Both survivors must have dropped it: each one's permits come from its own view of the members.
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                        .until(() -> dropped(Replicas.members(r.http(a)), victimId)
                                && dropped(Replicas.members(r.http(b)), victimId));
                goneAfter = (System.nanoTime() - killed) / 1e9;
                // What the departed share waits for (its "until", the readings), should it take long to come back.
                System.out.println("[replica kill] a survivor's coordination once the victim is gone: "
                        + Replicas.coordination(r.http(a)));
                gone.addAll(before);
                gone.removeAll(Replicas.members(r.http(a)));
                // Its share stays counted as departed until a reading covers its last creates: then it is back.
                await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                        .until(() -> !Replicas.departed(r.http(a)).contains(victimId)
                                && !Replicas.departed(r.http(b)).contains(victimId));
                backAfter = (System.nanoTime() - killed) / 1e9;
                if (backAfter > LEASE.toSeconds() + 2.0) {
                    System.out.println("[replica kill] share back late; a survivor's coordination now: "
                            + Replicas.coordination(r.http(a)) + "; its quota view: " + r.http(a).getJson("/api/quota"));
                }
            }
            System.out.printf(java.util.Locale.ROOT, "[replica kill] lease %d s, request timeout %d s: the killed "
                    + "member's permits back at both survivors %.1f s after the SIGKILL (goal <= %d s)%n",
                    LEASE.toSeconds(), REQUEST_TIMEOUT.toSeconds(), backAfter, LEASE.toSeconds() + 2);
            System.out.printf(java.util.Locale.ROOT, "[replica kill] lease %d s: killed member %s (reader before "
                    + "the kill: %s) gone from both survivors' members %.1f s after the SIGKILL (goal <= %d s); it had created %d%n",
                    LEASE.toSeconds(), gone, reader, goneAfter, LEASE.toSeconds() + 2, createdByVictim);

            env.awaitDrained(Duration.ofMinutes(3));
            Audit.Result result = audit.result(Replicas.DURABLE);
            System.out.printf("[replica kill] %d x 403 exceeded quota, max used %d of 75%n",
                    kubernetes.exceededQuotaRejections(), kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE));
            soft.assertThat(result.lost()).as("lost").isEmpty();
            soft.assertThat(result.duplicated()).as("duplicated; what the replicas logged about them:%n%s",
                    result.duplicated().isEmpty() ? "" : r.trace(result.duplicated())).isEmpty();
            soft.assertThat(result.created()).as("objects").isEqualTo(MESSAGES);
            soft.assertThat(createdByVictim).as("the victim created objects before the kill").isPositive();
            soft.assertThat(r.process(a).process().isAlive() && r.process(b).process().isAlive())
                    .as("both survivors still running; logs in " + DIR.toAbsolutePath()).isTrue();
            soft.assertThat(coordinated).as("/api/quota.coordination present").isTrue();
            soft.assertThat(gone).as("exactly one member gone").hasSize(1);
            if (victimId != null) {
                soft.assertThat(gone).as("the member gone is the victim").containsExactly(victimId);
            }
            soft.assertThat(goneAfter).as("seconds from the SIGKILL until the survivors no longer count the member")
                    .isLessThanOrEqualTo(LEASE.toSeconds() + 2.0);
            soft.assertThat(backAfter).as("seconds from the SIGKILL until its share is back with the survivors")
                    .isLessThanOrEqualTo(LEASE.toSeconds() + 2.0);
        }
        soft.assertAll();
    }

    /**
     * With no backlog the members only beat their hearts: nothing else makes them look at the shared state, and a
     * dead member must still leave within the lease, or its share of the room waits for the next burst.
     */
    @Test
    void anIdleReplicaKilledLeavesTheMembersWithinTheLease() throws Exception {
        try (Replicas r = Replicas.start(env, DIR, "idle", 3, "--backpressure.coordination.lease=" + LEASE.toSeconds() + "s")) {
            assertThat(Replicas.coordination(r.http(1))).as("/api/quota.coordination").isNotNull();
            String victimId = Replicas.coordination(r.http(0)).path("self").asString(null);
            long killed = System.nanoTime();
            r.process(0).process().destroyForcibly(); // SIGKILL
            assertThat(r.process(0).process().waitFor(30, TimeUnit.SECONDS)).isTrue();
            await().atMost(Duration.ofSeconds(60)).pollInterval(Duration.ofMillis(100)).ignoreExceptions()
                    .until(() -> dropped(Replicas.members(r.http(1)), victimId)
                            && dropped(Replicas.members(r.http(2)), victimId));
            double goneAfter = (System.nanoTime() - killed) / 1e9;
            System.out.printf(java.util.Locale.ROOT, "[replica kill, idle] lease %d s: killed member %s gone from both "
                    + "survivors' members %.1f s after the SIGKILL (goal <= %d s)%n", LEASE.toSeconds(), victimId,
                    goneAfter, LEASE.toSeconds() + 2);
            assertThat(goneAfter).as("seconds from the SIGKILL of an idle replica until the survivors drop it; logs in "
                    + DIR.toAbsolutePath()).isLessThanOrEqualTo(LEASE.toSeconds() + 2.0);
        }
    }

    /** The replica that reads the quotas for all; 0 where there is no coordination. */
    private static int readerIndex(Replicas r) {
        for (int i = 0; i < r.size(); i++) {
            JsonNode c = Replicas.coordination(r.http(i));
            if (c != null && c.path("self").asString("").equals(c.path("reader").asString(null))) {
                return i;
            }
        }
        return 0;
    }

    /** Two members left, and not the victim among them where its id is known. */
    private static boolean dropped(List<String> members, String victimId) {
        return members.size() == 2 && (victimId == null || !members.contains(victimId));
    }
}
