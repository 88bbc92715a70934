package io.quotagate;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.concurrent.TimeUnit;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.ServiceProcess;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import io.quotagate.support.ServiceJvms;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SIGTERM in the middle of a batch, as Kubernetes sends it on a rollout: the service stops fetching,
 * finishes and acks what it started, drains NATS and exits 0. A restart then creates every message
 * exactly once. The service runs as a real separate JVM, started as the image starts it, so the signal is real.
 */
@ServiceJvms
class GracefulShutdownIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    private static ServiceProcess startService(Path log) {
        return ServiceProcess.start(env, log, "--jetstream.batch-size=16", "--trigger.kubernetes.concurrency=4");
    }

    @Test
    void sigtermMidBatchFinishesInFlightWorkExitsZeroAndARestartCreatesEachMessageOnce() throws Exception {
        int messages = 300;
        kubernetes.setCreateLatency(Duration.ofMillis(150));
        producer.publish(QuotaGateTestProperties.SUBJECT, messages);
        Path dir = Files.createDirectories(Path.of("target", "graceful-shutdown-it"));

        Process first = startService(dir.resolve("first.log")).process();
        await().atMost(Duration.ofSeconds(60)).until(() -> kubernetes.successfulCreates() >= 24);
        first.destroy(); // SIGTERM
        assertThat(first.waitFor(60, TimeUnit.SECONDS)).as("exited within the shutdown timeout").isTrue();
        String firstLog = Files.readString(dir.resolve("first.log"));
        assertThat(first.exitValue()).as("exit code; log in " + dir.resolve("first.log").toAbsolutePath()).isZero();
        assertThat(firstLog).contains("Consumer stopped; in-flight work finished");
        long createdBeforeRestart = kubernetes.successfulCreates();

        ServiceProcess secondService = startService(dir.resolve("second.log"));
        Process second = secondService.process();
        try {
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250))
                    .until(() -> kubernetes.successfulCreates() >= messages);
            env.awaitDrained(Duration.ofSeconds(10));
            // Had the first run lost an ack, the restart would have met 409 AlreadyExists for that message.
            Http http = new Http(secondService.awaitPort(Duration.ofSeconds(5)));
            assertThat(http.metric("quotagate_messages_total{application=\"quotagate\",outcome=\"exists\"}"))
                    .as("redeliveries of messages already created").isZero();
            assertThat(http.metric("quotagate_messages_total{application=\"quotagate\",outcome=\"created\"}"))
                    .isEqualTo(messages - createdBeforeRestart);
        } finally {
            second.destroy();
            second.waitFor(60, TimeUnit.SECONDS);
        }
        System.out.printf("[graceful shutdown] %d created before SIGTERM, %d after restart, %d distinct%n",
                createdBeforeRestart, kubernetes.successfulCreates() - createdBeforeRestart,
                new HashSet<>(kubernetes.createdNames()).size());
        assertThat(kubernetes.successfulCreates()).as("each message created exactly once").isEqualTo(messages);
        assertThat(new HashSet<>(kubernetes.createdNames())).hasSize(messages);
        assertThat(second.exitValue()).isZero();
    }
}
