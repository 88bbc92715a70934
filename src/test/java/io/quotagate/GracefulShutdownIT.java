package io.quotagate;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * SIGTERM in the middle of a batch, as Kubernetes sends it on a rollout: the service stops fetching,
 * finishes and acks what it started, drains NATS and exits 0. A restart then creates every message
 * exactly once. The service runs as a real separate JVM so the signal is real.
 */
class GracefulShutdownIT {

    static final NatsServer nats = NatsServer.started();
    static final KubernetesApiEmulation kubernetes = new KubernetesApiEmulation();
    static final JetStreamTestClient producer = new JetStreamTestClient(nats.url());

    static {
        kubernetes.createQuota(NAMESPACE, QUOTA, RESOURCE, 100_000);
        producer.createStream(QuotaGateTestProperties.STREAM, "events.>");
    }

    @AfterAll
    static void tearDown() throws Exception {
        producer.close();
        kubernetes.close();
        nats.close();
    }

    private static Process startService(Path log) throws IOException {
        String classpath = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx256m",
                "-cp", classpath, QuotaGateApplication.class.getName(),
                "--server.port=0",
                "--jetstream.url=" + nats.url(),
                "--jetstream.stream=" + QuotaGateTestProperties.STREAM,
                "--jetstream.batch-size=16",
                "--kubernetes.master-url=" + kubernetes.url(),
                "--backpressure.quota-name=" + QUOTA,
                "--backpressure.namespace=" + NAMESPACE,
                "--backpressure.resource-name=" + RESOURCE,
                "--trigger.kubernetes.template=classpath:templates/workflow.yaml",
                "--trigger.kubernetes.concurrency=4",
                "--trigger.kubernetes.parameters[0].src.data-key=message",
                "--trigger.kubernetes.parameters[0].dest=spec.arguments.parameters.0.value"));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
    }

    private static int port(Path log) throws IOException {
        Matcher m = Pattern.compile("Tomcat started on port (\\d+)").matcher(Files.readString(log));
        assertThat(m.find()).as("port in " + log).isTrue();
        return Integer.parseInt(m.group(1));
    }

    @Test
    void sigtermMidBatchFinishesInFlightWorkExitsZeroAndARestartCreatesEachMessageOnce() throws Exception {
        int messages = 300;
        kubernetes.setCreateLatency(Duration.ofMillis(150));
        producer.publish(QuotaGateTestProperties.SUBJECT, messages);
        Path dir = Files.createDirectories(Path.of("target", "graceful-shutdown-it"));

        Process first = startService(dir.resolve("first.log"));
        await().atMost(Duration.ofSeconds(60)).until(() -> kubernetes.successfulCreates() >= 24);
        first.destroy(); // SIGTERM
        assertThat(first.waitFor(60, TimeUnit.SECONDS)).as("exited within the shutdown timeout").isTrue();
        String firstLog = Files.readString(dir.resolve("first.log"));
        assertThat(first.exitValue()).as("exit code; log in " + dir.resolve("first.log").toAbsolutePath()).isZero();
        assertThat(firstLog).contains("Consumer stopped; in-flight work finished");
        long createdBeforeRestart = kubernetes.successfulCreates();

        Process second = startService(dir.resolve("second.log"));
        try {
            await().atMost(Duration.ofSeconds(90)).pollInterval(Duration.ofMillis(250))
                    .until(() -> kubernetes.successfulCreates() >= messages);
            await().during(Duration.ofSeconds(1)).atMost(Duration.ofSeconds(10)).until(() -> {
                ConsumerInfo info = producer.consumerInfo(QuotaGateTestProperties.STREAM, "quotagate");
                return info.getNumPending() == 0 && info.getNumAckPending() == 0;
            });
            // Had the first run lost an ack, the restart would have met 409 AlreadyExists for that message.
            Http http = new Http(port(dir.resolve("second.log")));
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
