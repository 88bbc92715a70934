package io.quotagate.reliability;

import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;

import io.quotagate.consumer.NatsConnection;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * NATS faults: restarts while flowing and while blocked, SIGKILL, the durable consumer deleted under us. After each,
 * the audit holds and the server's own monitoring ({@code /connz}) shows exactly one QuotaGate connection. An
 * outage produces a handful of log lines, not one per reconnect attempt.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.NONE)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@ExtendWith(OutputCaptureExtension.class)
class NatsFaultsIT {

    static final int MONITOR_PORT = freePort();
    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.builder().quota(100_000)
            .natsArgs("-m", Integer.toString(MONITOR_PORT)).build();
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    static {
        kubernetes.setCreateLatency(Duration.ofMillis(5));
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.ack-wait", () -> "5s");
        // Shorter than ack-wait, as start-up requires: a create still running at ack-wait would be handed out again.
        registry.add("trigger.kubernetes.request-timeout", () -> "2s");
        registry.add("jetstream.batch-size", () -> 16);
    }

    @Autowired
    NatsConnection connection;
    @Autowired
    io.quotagate.gate.CapacityGate gate;

    @AfterEach
    void oneConnection() {
        nats.start();
        await().atMost(Duration.ofSeconds(30)).until(() -> {
            try {
                return producer.consumerInfo(STREAM, "quotagate") != null;
            } catch (RuntimeException e) {
                return false;
            }
        });
        await().atMost(Duration.ofSeconds(15)).until(connection::isConnected);
        // The server's view: one connection named quotagate, however many reconnects happened.
        await().atMost(Duration.ofSeconds(10)).until(() -> quotagateConnections() == 1);
    }

    private static Audit audit(String name) {
        return new Audit(name, producer, kubernetes, STREAM, null);
    }

    @Test
    void restartsWhileFlowingLoseNothingAndDuplicateNothing() {
        Audit audit = audit("restarts-flowing");
        List<Long> seqs = audit.publishJson(SUBJECT, 300);
        for (int i = 1; i <= 3; i++) {
            int target = i * 60;
            await().atMost(Duration.ofSeconds(30)).until(() -> audit.objects().keySet().stream().filter(seqs::contains).count() >= target);
            nats.restart();
        }
        audit.awaitCreated(seqs, Duration.ofSeconds(60), "quotagate", gate::state);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void restartsWhileBlockedKeepTheBacklogInJetStream() {
        Audit audit = audit("restarts-blocked");
        long used = kubernetes.used(NAMESPACE, QUOTA, RESOURCE);
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, used);
        List<Long> seqs = audit.publishJson(SUBJECT, 20);
        nats.restart();
        nats.restart();
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(10))
                .until(() -> java.util.Collections.disjoint(audit.objects().keySet(), seqs));
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, 100_000);
        // Healthy: about 6 s (the 5 s settle after the reconnect, then the creates).
        audit.awaitCreated(seqs, Duration.ofSeconds(60), "quotagate", gate::state);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void aSigkilledServerLosesNothing() {
        Audit audit = audit("sigkill");
        List<Long> seqs = audit.publishJson(SUBJECT, 200);
        await().atMost(Duration.ofSeconds(30)).until(() -> audit.objects().keySet().stream().filter(seqs::contains).count() >= 50);
        nats.kill();
        nats.start();
        audit.awaitCreated(seqs, Duration.ofSeconds(60), "quotagate", gate::state);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void aDeletedDurableConsumerIsRecreatedAndRedeliveriesMeetTheirObjects() throws Exception {
        Audit audit = audit("consumer-deleted");
        List<Long> before = audit.publishJson(SUBJECT, 10);
        await().atMost(Duration.ofSeconds(20)).until(() -> audit.objects().keySet().containsAll(before));
        // Deleted while the gate is closed, so no pull is outstanding to be told "409 Consumer Deleted": later
        // pulls on the missing durable just come back empty (before the fix the loop waited there forever).
        long used = kubernetes.used(NAMESPACE, QUOTA, RESOURCE);
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, used);
        await().atMost(Duration.ofSeconds(10)).until(() -> producer.consumerInfo(STREAM, "quotagate").getNumAckPending() == 0);
        producer.connection().jetStreamManagement().deleteConsumer(STREAM, "quotagate");
        List<Long> after = audit.publishJson(SUBJECT, 10);
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, 100_000);
        // The new durable starts at the beginning of the stream: every old message comes again and meets 409.
        await().atMost(Duration.ofSeconds(60)).until(() -> audit.objects().keySet().containsAll(after));
        await().atMost(Duration.ofSeconds(60)).until(() -> producer.consumerInfo(STREAM, "quotagate").getNumPending() == 0
                && producer.consumerInfo(STREAM, "quotagate").getNumAckPending() == 0);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void anOutageIsLoggedOnceNotOncePerReconnectAttempt(CapturedOutput output) {
        int start = output.getAll().length();
        nats.stop();
        // Reconnect attempts every 200ms for 6s: ~30 attempts.
        await().pollDelay(Duration.ofSeconds(6)).atMost(Duration.ofSeconds(7)).until(() -> !connection.isConnected());
        nats.start();
        await().atMost(Duration.ofSeconds(15)).until(connection::isConnected);
        String during = output.getAll().substring(start);
        // The service's own lines (the test's producer connection logs through jnats' default listener).
        long lines = during.lines().filter(l -> l.contains("io.quotagate.") || l.contains("i.quotagate.")).count();
        System.out.printf("[nats outage] %d log lines during a 6 s outage with reconnect-wait 200ms%n", lines);
        assertThat(lines).as(during).isLessThanOrEqualTo(10);
    }

    static long quotagateConnections() throws Exception {
        var client = java.net.http.HttpClient.newHttpClient();
        var response = client.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + MONITOR_PORT + "/connz?limit=1024")).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
        JsonNode connz = new ObjectMapper().readTree(response.body());
        long n = 0;
        for (JsonNode c : connz.path("connections")) {
            if ("quotagate".equals(c.path("name").asString())) {
                n++;
            }
        }
        return n;
    }

    private static int freePort() {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (java.io.IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
