package io.quotagate.reliability;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.ServiceJvms;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.awaitility.Awaitility.await;

/**
 * The nats-server that holds the backlog, the created-record and the shared permits stalls (SIGSTOP, then SIGCONT)
 * while three replicas burst through a full quota: connections stay up, every request times out meanwhile, and
 * the record writes of objects just created fail with them. Every message is still exactly one object.
 */
@ServiceJvms
class ReplicasNatsFreezeIT {

    static final Path DIR = Path.of("target", "replicas-nats-freeze-it");
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
    void aStalledNatsServerDuringAThreeReplicaBurstLosesAndDuplicatesNothing() throws Exception {
        Audit audit = new Audit("replicas-nats-freeze", env.producer, kubernetes, STREAM, null);
        SoftAssertions soft = new SoftAssertions();
        try (Replicas r = Replicas.start(env, DIR, "freeze", 3)) {
            List<Long> seqs = audit.publishJson(SUBJECT, MESSAGES);
            for (int i = 1; i <= 2; i++) {
                long target = i * MESSAGES / 3;
                await().atMost(Duration.ofMinutes(2)).until(() -> CreatedRecordProbe.createdFor(kubernetes, seqs) >= target);
                env.nats.freeze(FREEZE);
                System.out.printf("[replicas nats freeze] freeze %d (%d s) after %d creates%n", i, FREEZE.toSeconds(),
                        CreatedRecordProbe.createdFor(kubernetes, seqs));
            }
            await().atMost(Duration.ofMinutes(3)).pollInterval(Duration.ofMillis(250))
                    .until(() -> audit.objects().keySet().containsAll(seqs));
            env.awaitDrained(Duration.ofMinutes(1));
            Audit.Result result = audit.result(Replicas.DURABLE);
            System.out.printf("[replicas nats freeze] 2 freezes, 3 replicas: %d x 403 exceeded quota, max used %d of 75%n",
                    kubernetes.exceededQuotaRejections(), kubernetes.maxUsed(NAMESPACE, QUOTA, RESOURCE));
            System.out.println(result);
            soft.assertThat(result.lost()).as("lost; logs in " + DIR.toAbsolutePath()).isEmpty();
            soft.assertThat(result.duplicated()).as("duplicated; logs in %s; what the replicas logged about them:%n%s",
                    DIR.toAbsolutePath(), result.duplicated().isEmpty() ? "" : r.trace(result.duplicated())).isEmpty();
            soft.assertThat(result.created()).as("objects").isEqualTo(MESSAGES);
        }
        soft.assertAll();
    }
}
