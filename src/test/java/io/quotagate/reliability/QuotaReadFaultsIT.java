package io.quotagate.reliability;

import java.time.Duration;
import java.util.List;

import io.nats.client.api.ConsumerInfo;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Kubernetes faults with fail-mode closed (the default): an unreadable quota stops fetching (gauge 1, reason
 * quota_unknown, nothing taken out of JetStream) and the service recovers within one poll interval of the apiserver
 * coming back; an RBAC 403 is a configuration error; failing creates are retried with back-off. The service reaches
 * the apiserver through a {@link TcpProxy} so a test can make it refuse connections.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@AutoConfigureMetrics
class QuotaReadFaultsIT {

    static final Duration POLL = Duration.ofSeconds(2);
    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final TcpProxy apiserver = new TcpProxy(java.net.URI.create(kubernetes.url()).getPort());
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, 1.0);
        registry.add("kubernetes.master-url", () -> apiserver.url("http"));
        registry.add("backpressure.poll-interval", () -> POLL.toMillis() + "ms");
        registry.add("backpressure.read-timeout", () -> "1s");
        registry.add("trigger.kubernetes.request-timeout", () -> "1s");
        registry.add("jetstream.retry-backoff-initial", () -> "100ms");
        registry.add("jetstream.retry-backoff-max", () -> "400ms");
        registry.add("jetstream.ack-wait", () -> "5s");
        registry.add("trigger.kubernetes.concurrency", () -> 1);
    }

    @LocalServerPort
    int port;

    @AfterEach
    void heal() {
        kubernetes.restoreQuotaReads();
        kubernetes.clearCreateFailures();
        kubernetes.setCreateLatency(Duration.ZERO);
        apiserver.start();
        Http http = new Http(port);
        await().atMost(Duration.ofSeconds(15)).until(() -> Metrics.blocked(http) == 0.0);
    }

    @AfterAll
    static void closeProxy() throws Exception {
        apiserver.close();
    }

    @Test
    void quotaReadsAnswering500CloseTheGateUntilTheyWorkAgain() {
        failClosedAndRecover("read-500", () -> kubernetes.failQuotaReads(500), kubernetes::restoreQuotaReads);
    }

    @Test
    void quotaReadsSlowerThanTheReadTimeoutCloseTheGateUntilTheyAreFastAgain() {
        failClosedAndRecover("read-timeout", () -> kubernetes.delayQuotaReads(Duration.ofSeconds(3)),
                kubernetes::restoreQuotaReads);
    }

    @Test
    void anUnreachableApiserverClosesTheGateUntilItIsBack() {
        failClosedAndRecover("connection-refused", apiserver::stop, apiserver::start);
    }

    private void failClosedAndRecover(String name, Runnable fault, Runnable repair) {
        Http http = new Http(port);
        Audit audit = new Audit(name, producer, kubernetes, STREAM, null);
        List<Long> before = audit.publishJson(SUBJECT, 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> audit.objects().keySet().containsAll(before));

        fault.run();
        await("gate closed").atMost(Duration.ofSeconds(10)).until(() -> Metrics.blocked(http) == 1.0);
        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.path("blocked").asBoolean()).isTrue();
        assertThat(quota.path("blockedReason").asString()).isEqualTo("quota_unknown");
        assertThat(quota.path("lastError").asString()).contains("ResourceQuota " + NAMESPACE + "/" + QUOTA);
        assertThat(http.getJson("/actuator/health").path("components").path("quota").path("status").asString())
                .isEqualTo("UNKNOWN");

        List<Long> waiting = audit.publishJson(SUBJECT, 3);
        // Nothing fetched: all three stay in the stream, none is even delivered.
        java.util.concurrent.atomic.AtomicReference<String> seen = new java.util.concurrent.atomic.AtomicReference<>();
        try {
            await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(6)).until(() -> {
                ConsumerInfo info = producer.consumerInfo(STREAM, "quotagate");
                seen.set("pending=" + info.getNumPending() + " ackPending=" + info.getNumAckPending()
                        + " delivered=" + info.getDelivered().getStreamSequence() + " blocked=" + Metrics.blocked(http)
                        + " waiting=" + waiting);
                // A pull already waiting when the gate closed may bring one message; it goes straight back.
                // (Before the fix it took all of them and created them while the gate said quota_unknown.)
                return info.getNumPending() >= 2 && info.getDelivered().getStreamSequence() <= waiting.get(0)
                        && java.util.Collections.disjoint(audit.objects().keySet(), waiting);
            });
        } catch (org.awaitility.core.ConditionTimeoutException e) {
            throw new AssertionError("fetched while the quota was unknown: " + seen.get(), e);
        }

        long t0 = System.nanoTime();
        repair.run();
        await("gate open again").atMost(POLL.plusSeconds(3)).pollInterval(Duration.ofMillis(50))
                .until(() -> Metrics.blocked(http) == 0.0);
        System.out.printf("[%s] gate open %d ms after the apiserver came back (poll interval %d ms)%n", name,
                (System.nanoTime() - t0) / 1_000_000, POLL.toMillis());
        await().atMost(Duration.ofSeconds(10)).until(() -> audit.objects().keySet().containsAll(waiting));
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void aForbiddenQuotaReadIsAConfigurationErrorNotAFullQuota() {
        Http http = new Http(port);
        kubernetes.failQuotaReads(403);
        await().atMost(Duration.ofSeconds(10)).until(() -> http.getJson("/api/quota").path("lastError").asString()
                .contains("not allowed to read ResourceQuota"));
        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.path("blockedReason").asString()).isNotEqualTo("quota_full").isEqualTo("quota_unknown");
        assertThat(quota.path("lastError").asString()).contains("HTTP 403").contains("grant get/list/watch");
        JsonNode health = http.getJson("/actuator/health").path("components").path("quota");
        assertThat(health.path("status").asString()).isEqualTo("DOWN");
        assertThat(health.path("details").path("lastError").asString()).contains("not allowed");
        // Not in a probe group: a configuration error never restarts or unreadies the pod.
        assertThat(http.get("/actuator/health/liveness").statusCode()).isEqualTo(200);
        assertThat(http.get("/actuator/health/readiness").statusCode()).isEqualTo(200);
    }

    @Test
    void createsAnswering5xxOrAQuotaConflictAreRetriedWithBackoffThenCreated() {
        Http http = new Http(port);
        Audit audit = new Audit("create-5xx-409", producer, kubernetes, STREAM, null);
        double retriedBefore = Metrics.outcome(http, "retried");
        kubernetes.failNextCreates(503, 2);
        long a = audit.publishJson(SUBJECT, 1).get(0);
        await().atMost(Duration.ofSeconds(15)).until(() -> audit.objects().containsKey(a));
        kubernetes.failNextCreates(409, 2); // "Conflict": the quota admission lost the race to update the quota
        long b = audit.publishJson(SUBJECT, 1).get(0);
        await().atMost(Duration.ofSeconds(15)).until(() -> audit.objects().containsKey(b));
        assertThat(Metrics.outcome(http, "retried") - retriedBefore).isEqualTo(4.0);
        assertThat(producer.consumerInfo(STREAM, "quotagate").getRedelivered()).isZero();
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void aCreateThatTimesOutIsRetriedAndMeetsItsObjectInsteadOfCreatingATwin() {
        Http http = new Http(port);
        Audit audit = new Audit("create-timeout", producer, kubernetes, STREAM, null);
        double retriedBefore = Metrics.outcome(http, "retried");
        double existsBefore = Metrics.outcome(http, "exists");
        // Stored at once, answered after 3s; the service gives up after 1s (trigger.kubernetes.request-timeout).
        kubernetes.setCreateLatency(Duration.ofSeconds(3));
        long seq = audit.publishJson(SUBJECT, 1).get(0);
        // The object is stored, but the answer came too late: the message counts as transient and is nak'd.
        await().atMost(Duration.ofSeconds(10)).until(() -> audit.objects().containsKey(seq)
                && Metrics.outcome(http, "retried") > retriedBefore);
        kubernetes.setCreateLatency(Duration.ZERO);
        await().atMost(Duration.ofSeconds(10)).until(() -> Metrics.outcome(http, "exists") > existsBefore);
        await().atMost(Duration.ofSeconds(5)).until(() -> producer.consumerInfo(STREAM, "quotagate").getNumAckPending() == 0);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
