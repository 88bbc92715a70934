package io.quotagate.reliability;

import java.time.Duration;
import java.util.List;

import io.quotagate.consumer.NatsConnection;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The NATS connection drops while slow creates (3 s each) are in flight, and stays down until they have answered:
 * every create finishes, its ack is written while the connection is gone, and still nothing is lost and nothing is
 * created twice. Once by cutting the TCP connection between service and server (the server keeps its state, and
 * the outage outlasts ack-wait), once by stopping the nats-server itself.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@AutoConfigureMetrics
class ConnectionDroppedDuringSlowCreateIT {

    static final int MESSAGES = 8;
    static final Duration CREATE_LATENCY = Duration.ofSeconds(3);
    // Longer than a create (else JetStream would redeliver every message mid-create, outage or not).
    static final Duration ACK_WAIT = Duration.ofSeconds(4);
    /**
     * How long the service may take to see the outage: at once when its socket closes, else when two keep-alive PINGs
     * (every 10 s) go unanswered.
     */
    static final Duration NOTICED_WITHIN = Duration.ofSeconds(35);

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final TcpProxy natsLink = new TcpProxy(env.nats.port());

    static {
        kubernetes.setCreateLatency(CREATE_LATENCY);
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.url", () -> natsLink.url("nats"));
        registry.add("jetstream.ack-wait", () -> ACK_WAIT.toSeconds() + "s");
        // Shorter than ack-wait, as start-up requires: a create still running at ack-wait would be handed out again.
        registry.add("trigger.kubernetes.request-timeout", () -> "3900ms");
        // One batch, every create of it in flight at once: the drop hits all of them.
        registry.add("jetstream.batch-size", () -> MESSAGES);
        registry.add("trigger.kubernetes.concurrency", () -> MESSAGES);
    }

    @LocalServerPort
    int port;

    @Autowired
    NatsConnection connection;

    /** When the batch was seen in flight, i.e. just after JetStream delivered it. */
    long inFlightSince;
    /** How long after the cut the service had noticed it, for the report. */
    Duration noticedAfter;

    @AfterEach
    void heal() {
        natsLink.start();
        env.nats.start();
    }

    @AfterAll
    static void tearDown() {
        natsLink.close();
    }

    @Test
    void aConnectionCutDuringSlowCreatesLosesNothingAndCreatesNoTwin() {
        Http http = new Http(port);
        Audit audit = new Audit("cut-during-slow-create", env.producer, kubernetes, STREAM, null);
        Outcomes before = Outcomes.read(http, kubernetes);
        publishOneBatchAndAwaitItsCreatesInFlight(http, audit, before);

        natsLink.stop();
        awaitEveryCreateAnsweredWhileDisconnected(http, before, System.nanoTime());
        // Stay away until ack-wait has run out on the server: by its clock these deliveries were never acked.
        await().atMost(ACK_WAIT.plusSeconds(1))
                .until(() -> Duration.ofNanos(System.nanoTime() - inFlightSince).compareTo(ACK_WAIT.plusMillis(500)) >= 0);
        natsLink.start();

        assertDrainedWithNothingLostAndNoTwin("connection cut", http, audit, before);
    }

    @Test
    void aNatsServerStoppedDuringSlowCreatesLosesNothingAndCreatesNoTwin() {
        Http http = new Http(port);
        Audit audit = new Audit("server-stopped-during-slow-create", env.producer, kubernetes, STREAM, null);
        Outcomes before = Outcomes.read(http, kubernetes);
        publishOneBatchAndAwaitItsCreatesInFlight(http, audit, before);

        env.nats.stop();
        awaitEveryCreateAnsweredWhileDisconnected(http, before, System.nanoTime());
        env.nats.start();

        assertDrainedWithNothingLostAndNoTwin("server stopped", http, audit, before);
    }

    /**
     * Every create answers while the connection is gone, so its ack has no live connection to go to. Whether the
     * service has noticed by the time the acks are written does not matter: an ack written to the dead socket is
     * lost as surely as one held while reconnecting. Noticing usually takes milliseconds; the report says how long.
     */
    private void awaitEveryCreateAnsweredWhileDisconnected(Http http, Outcomes before, long cutAt) {
        await().atMost(NOTICED_WITHIN).until(() -> !connection.isConnected());
        noticedAfter = Duration.ofNanos(System.nanoTime() - cutAt);
        await().atMost(CREATE_LATENCY.plusSeconds(5)).until(() -> outcome(http, "created") >= before.created + MESSAGES);
        assertThat(connection.isConnected()).as("still disconnected when the creates answered").isFalse();
    }

    private void assertDrainedWithNothingLostAndNoTwin(String label, Http http, Audit audit, Outcomes before) {
        env.awaitDrained(Duration.ofSeconds(20));
        report(label, http, before);
        audit.assertNothingLostNothingDuplicated("quotagate");
        assertThat(kubernetes.successfulCreates() - before.apiserverCreates).as("objects stored").isEqualTo(MESSAGES);
        assertThat(outcome(http, "retried")).as("no create was given up and retried").isEqualTo(before.retried);
    }

    /**
     * Publishes while the consumer is paused, so the whole batch is fetched at once when it resumes; returns once
     * every object is stored (the emulation stores at once and answers {@link #CREATE_LATENCY} later) and none of
     * the creates has answered yet.
     */
    private List<Long> publishOneBatchAndAwaitItsCreatesInFlight(Http http, Audit audit, Outcomes before) {
        await().atMost(Duration.ofSeconds(20)).until(connection::isConnected);
        assertThat(http.postJson("/actuator/consumer", "{\"state\":\"PAUSED\"}").statusCode()).isLessThan(300);
        // A pull already waiting when we paused would take the first message alone: wait until none is left.
        await().during(Duration.ofMillis(300)).atMost(Duration.ofSeconds(5)).until(() -> env.consumerInfo().getNumWaiting() == 0);
        List<Long> seqs = audit.publishJson(SUBJECT, MESSAGES);
        assertThat(http.postJson("/actuator/consumer", "{\"state\":\"RESUMED\"}").statusCode()).isLessThan(300);
        // Generous: on a loaded 2-core CI machine the resume, fetch and stores once took longer than 5 s. The wait
        // ends at the first poll that sees every object, and the creates' answers come CREATE_LATENCY after that.
        await().atMost(Duration.ofSeconds(30)).until(() -> audit.objects().keySet().containsAll(seqs));
        inFlightSince = System.nanoTime();
        assertThat(outcome(http, "created")).as("creates still in flight").isEqualTo(before.created);
        return seqs;
    }

    private void report(String fault, Http http, Outcomes before) {
        Outcomes after = Outcomes.read(http, kubernetes);
        System.out.printf("[slow create, %s] %d creates of %d s in flight when the connection dropped, all answered "
                        + "while disconnected (noticed after %d ms); outcomes created=%.0f exists=%.0f retried=%.0f; "
                        + "objects stored by the apiserver %d; service reconnects %d%n", fault, MESSAGES,
                CREATE_LATENCY.toSeconds(), noticedAfter.toMillis(), after.created - before.created,
                after.exists - before.exists, after.retried - before.retried,
                after.apiserverCreates - before.apiserverCreates, connection.reconnects());
    }

    private record Outcomes(double created, double exists, double retried, long apiserverCreates) {
        static Outcomes read(Http http, KubernetesApiEmulation kubernetes) {
            return new Outcomes(outcome(http, "created"), outcome(http, "exists"), outcome(http, "retried"),
                    kubernetes.successfulCreates());
        }
    }

    /** quotagate_messages_total{outcome}; a series not yet exported has counted nothing. */
    private static double outcome(Http http, String outcome) {
        double v = Metrics.outcome(http, outcome);
        return Double.isNaN(v) ? 0 : v;
    }
}
