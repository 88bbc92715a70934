package io.quotagate.reliability;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import io.quotagate.support.ServiceJvms;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.awaitility.Awaitility.await;

/**
 * Issue 20, the third "done when": the nats-server that holds the backlog, the created-record and the replicas'
 * shared permits is restarted (SIGTERM, same store) twice while three replicas burst through a full quota, and every
 * message is still exactly one object; and the same with the server stalled instead of restarted. 403s are not forbidden here (permits can be uncertain while NATS is away) but
 * counted and printed.
 *
 * <p>Objects delete themselves 20–200 ms after creation, so a message whose ack was lost and that is redelivered to
 * another replica meets no 409 and no in-process memory: only the created-record can tell it was created.
 */
@ServiceJvms
class ReplicasNatsRestartIT {

    static final Path DIR = Path.of("target", "replicas-nats-restart-it");
    static final int MESSAGES = 1_500;
    static final Duration FREEZE = Duration.ofSeconds(3);

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(75);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;

    static {
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
        kubernetes.setCreateLatency(Duration.ofMillis(5));
        kubernetes.completeAutomatically("Workflow", Duration.ofMillis(20), Duration.ofMillis(200));
    }

    @Test
    void twoNatsRestartsDuringAThreeReplicaBurstLoseAndDuplicateNothing() throws Exception {
        burstThrough("restart", "restarts", env.nats::restart);
    }

    /**
     * The server stalls (SIGSTOP, 3 s, then SIGCONT): connections stay up, every request times out meanwhile, and
     * the record writes of objects just created time out with them; some replicas drop the connection on their
     * unanswered PINGs. Twins before the fix of reliability.md's "Bugs these tests found", item 13.
     */
    @Test
    void twoNatsStallsDuringAThreeReplicaBurstLoseAndDuplicateNothing() throws Exception {
        burstThrough("freeze", "stalls of " + FREEZE.toSeconds() + " s", () -> env.nats.freeze(FREEZE));
    }

    interface Fault {
        void strike() throws Exception;
    }

    /** 1,500 messages through three replicas, the fault after a third and two thirds of them are created. */
    private void burstThrough(String name, String faults, Fault fault) throws Exception {
        Audit audit = new Audit("replicas-nats-" + name, env.producer, kubernetes, STREAM, null);
        SoftAssertions soft = new SoftAssertions();
        try (Replicas r = Replicas.start(env, DIR, name, 3)) {
            List<Long> seqs = audit.publishJson(SUBJECT, MESSAGES);
            for (int i = 1; i <= 2; i++) {
                long target = i * MESSAGES / 3;
                await().atMost(Duration.ofMinutes(2)).until(() -> CreatedRecordProbe.createdFor(kubernetes, seqs) >= target);
                fault.strike();
                System.out.printf("[replicas nats %s] %s %d after %d creates%n", name, name, i,
                        CreatedRecordProbe.createdFor(kubernetes, seqs));
            }
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250))
                    .until(() -> audit.objects().keySet().containsAll(seqs));
            env.awaitDrained(Duration.ofMinutes(1));
            Audit.Result result = audit.result(Replicas.DURABLE);
            System.out.printf("[replicas nats %s] 2 %s, 3 replicas: %d x 403 exceeded quota, max used %d of 75%n",
                    name, faults, kubernetes.exceededQuotaRejections(), kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE));
            soft.assertThat(result.lost()).as("lost; logs in " + DIR.toAbsolutePath()).isEmpty();
            soft.assertThat(result.duplicated()).as("duplicated; logs in %s; what the replicas logged about them:%n%s",
                    DIR.toAbsolutePath(), result.duplicated().isEmpty() ? "" : r.trace(result.duplicated())).isEmpty();
            soft.assertThat(result.created()).as("objects").isEqualTo(MESSAGES);
            for (int i = 0; i < 3; i++) {
                soft.assertThat(r.process(i).process().isAlive()).as("replica " + i + " still running").isTrue();
            }
        }
        soft.assertAll();
    }
}
