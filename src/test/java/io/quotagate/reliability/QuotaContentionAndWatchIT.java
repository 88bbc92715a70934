package io.quotagate.reliability;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import io.fabric8.kubernetes.api.model.GenericKubernetesResourceBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.quotagate.quota.QuotaMonitor;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

import static io.quotagate.support.QuotaGateTestProperties.NAMESPACE;
import static io.quotagate.support.QuotaGateTestProperties.QUOTA;
import static io.quotagate.support.QuotaGateTestProperties.RESOURCE;
import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * Another writer filling the quota (403 exceeded quota: nak with delay, gate closed at once, nothing lost) and the
 * quota watch dropped and re-established without missing freed capacity. The poll interval is 60s here, so
 * anything faster than that came from the watch (or from the retry after a failed read).
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@AutoConfigureMetrics
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class QuotaContentionAndWatchIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final TcpProxy apiserver = new TcpProxy(java.net.URI.create(kubernetes.url()).getPort());
    static final JetStreamTestClient producer = env.producer;

    static {
        kubernetes.setQuotaControllerLag(Duration.ofMillis(100));
    }

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("kubernetes.master-url", () -> apiserver.url("http"));
        registry.add("backpressure.poll-interval", () -> "60s");
        registry.add("jetstream.quota-rejected-delay", () -> "1s");
        registry.add("jetstream.ack-wait", () -> "5s");
        // Shorter than ack-wait, as start-up requires: a create still running at ack-wait would be handed out again.
        registry.add("trigger.kubernetes.request-timeout", () -> "2s");
    }

    @LocalServerPort
    int port;

    @Autowired
    QuotaMonitor monitor;

    @AfterEach
    void heal() {
        kubernetes.restoreQuotaReads();
        apiserver.start();
    }

    @AfterAll
    static void tearDown() {
        apiserver.close();
    }

    private static long used() {
        return kubernetes.used(NAMESPACE, QUOTA, RESOURCE);
    }

    @Test
    @Order(1)
    void anotherWriterFillingTheQuotaMeans403NakWithDelayGateClosedAndNothingLost() {
        Http http = new Http(port);
        Audit audit = new Audit("another-writer", producer, kubernetes, STREAM, null);
        long base = used();
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, base + 5);
        await().atMost(Duration.ofSeconds(10)).until(() -> http.getJson("/api/quota").path("threshold").asLong() == base + 5
                && !http.getJson("/api/quota").path("blocked").asBoolean());

        // The other writer's creates are seen only 2s late (reads are slow), so our next fetch still believes in 5.
        kubernetes.delayQuotaReads(Duration.ofSeconds(2));
        KubernetesClient other = kubernetes.client();
        List<String> theirs = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            theirs.add("other-writer-" + i);
            other.resource(new GenericKubernetesResourceBuilder().withApiVersion("argoproj.io/v1alpha1")
                    .withKind("Workflow").withNewMetadata().withName("other-writer-" + i).endMetadata().build())
                    .inNamespace(NAMESPACE).create();
        }
        long rejectedBefore = kubernetes.exceededQuotaRejections();
        List<Long> ours = audit.publishJson(SUBJECT, 3);

        await().atMost(Duration.ofSeconds(10)).until(() -> kubernetes.exceededQuotaRejections() > rejectedBefore);
        // Closed at once, not only once the (2s late) read arrives.
        await().atMost(Duration.ofMillis(1500)).pollInterval(Duration.ofMillis(50))
                .until(() -> http.getJson("/api/quota").path("blocked").asBoolean());
        assertThat(Metrics.outcome(http, "quota_rejected")).isGreaterThanOrEqualTo(1.0);
        kubernetes.restoreQuotaReads();
        // Still blocked (quota full) and our messages wait in JetStream, redelivered only after their delay.
        await().during(Duration.ofSeconds(3)).atMost(Duration.ofSeconds(5))
                .until(() -> Metrics.blocked(http) == 1.0 && java.util.Collections.disjoint(audit.objects().keySet(), ours));

        for (String name : theirs) {
            other.genericKubernetesResources("argoproj.io/v1alpha1", "Workflow").inNamespace(NAMESPACE).withName(name).delete();
        }
        await().atMost(Duration.ofSeconds(15)).until(() -> audit.objects().keySet().containsAll(ours));
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    @Order(2)
    void freedCapacityIsSeenAfterTheWatchWasDroppedAndReestablished() {
        Http http = new Http(port);
        Audit audit = new Audit("watch-dropped", producer, kubernetes, STREAM, null);
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, used());
        List<Long> ours = audit.publishJson(SUBJECT, 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> "quota_full".equals(http.getJson("/api/quota").path("blockedReason").asString()));

        apiserver.dropConnections(); // the watch (and every keep-alive connection) is cut
        await().atMost(Duration.ofSeconds(10)).until(monitor::watching);
        long t0 = System.nanoTime();
        kubernetes.deleteOldest(NAMESPACE, "Workflow", 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> audit.objects().keySet().containsAll(ours));
        System.out.printf("[watch re-established] freed capacity used after %d ms (poll interval 60 s)%n",
                (System.nanoTime() - t0) / 1_000_000);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    @Order(3)
    void capacityFreedWhileTheApiserverWasUnreachableIsSeenWhenItIsBack() {
        Http http = new Http(port);
        Audit audit = new Audit("freed-while-unreachable", producer, kubernetes, STREAM, null);
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, used() + 2);
        List<Long> first = audit.publishJson(SUBJECT, 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> audit.objects().keySet().containsAll(first));
        kubernetes.setHard(NAMESPACE, QUOTA, RESOURCE, used());
        List<Long> ours = audit.publishJson(SUBJECT, 2);
        await().atMost(Duration.ofSeconds(10)).until(() -> "quota_full".equals(http.getJson("/api/quota").path("blockedReason").asString()));

        apiserver.stop();
        kubernetes.deleteOldest(NAMESPACE, "Workflow", 2);
        // The informer notices its watch is gone and keeps retrying; the gate stays closed (full, as last read).
        await().atMost(Duration.ofSeconds(10)).until(() -> !monitor.watching());
        assertThat(http.getJson("/api/quota").path("blocked").asBoolean()).isTrue();
        long t0 = System.nanoTime();
        apiserver.start();
        await().atMost(Duration.ofSeconds(20)).until(() -> audit.objects().keySet().containsAll(ours));
        System.out.printf("[apiserver back] freed capacity used after %d ms (poll interval 60 s)%n",
                (System.nanoTime() - t0) / 1_000_000);
        await().atMost(Duration.ofSeconds(10)).until(monitor::watching);
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
