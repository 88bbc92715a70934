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
 * message is still exactly one object. 403s are not forbidden here (permits can be uncertain while NATS is away) but
 * counted and printed.
 *
 * <p>Objects delete themselves 20–200 ms after creation, so a message whose ack was lost and that is redelivered to
 * another replica meets no 409 and no in-process memory: only the created-record can tell it was created.
 */
@ServiceJvms
class ReplicasNatsRestartIT {

    static final Path DIR = Path.of("target", "replicas-nats-restart-it");
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
    void twoNatsRestartsDuringAThreeReplicaBurstLoseAndDuplicateNothing() {
        Audit audit = new Audit("replicas-nats-restart", env.producer, kubernetes, STREAM, null);
        SoftAssertions soft = new SoftAssertions();
        try (Replicas r = Replicas.start(env, DIR, "restart", 3)) {
            List<Long> seqs = audit.publishJson(SUBJECT, MESSAGES);
            for (int i = 1; i <= 2; i++) {
                long target = i * MESSAGES / 3;
                await().atMost(Duration.ofMinutes(2)).until(() -> CreatedRecordProbe.createdFor(kubernetes, seqs) >= target);
                env.nats.restart();
                System.out.printf("[replicas nats restart] restart %d after %d creates%n", i,
                        CreatedRecordProbe.createdFor(kubernetes, seqs));
            }
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250))
                    .until(() -> audit.objects().keySet().containsAll(seqs));
            env.awaitDrained(Duration.ofMinutes(1));
            Audit.Result result = audit.result(Replicas.DURABLE);
            System.out.printf("[replicas nats restart] 2 restarts, 3 replicas: %d x 403 exceeded quota, max used %d of 75%n",
                    kubernetes.exceededQuotaRejections(), kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE));
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
