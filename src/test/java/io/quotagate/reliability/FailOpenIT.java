package io.quotagate.reliability;

import java.time.Duration;
import java.util.List;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.QuotaGateTestProperties;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import io.quotagate.support.nats.NatsServer;
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

/** {@code backpressure.fail-mode=open}: an unreadable quota is reported, but messages keep flowing. */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@AutoConfigureMetrics
class FailOpenIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final NatsServer nats = env.nats;
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        QuotaGateTestProperties.register(registry, nats, kubernetes, 1.0);
        registry.add("backpressure.fail-mode", () -> "open");
        registry.add("backpressure.poll-interval", () -> "2s");
        registry.add("backpressure.read-timeout", () -> "1s");
    }

    @LocalServerPort
    int port;


    @Test
    void anUnreadableQuotaIsReportedButMessagesKeepFlowing() {
        Http http = new Http(port);
        Audit audit = new Audit("fail-open", producer, kubernetes, STREAM, null);
        kubernetes.failQuotaReads(500);
        await().atMost(Duration.ofSeconds(10)).until(() -> !http.getJson("/api/quota").path("lastError").isNull()
                && http.getJson("/api/quota").path("lastError").asString().contains("failed"));
        List<Long> seqs = audit.publishJson(SUBJECT, 5);
        await().atMost(Duration.ofSeconds(15)).until(() -> audit.objects().keySet().containsAll(seqs));
        JsonNode quota = http.getJson("/api/quota");
        assertThat(quota.path("failMode").asString()).isEqualTo("open");
        assertThat(quota.path("blocked").asBoolean()).isFalse();
        assertThat(Metrics.blocked(http)).isZero();
        assertThat(http.getJson("/actuator/health").path("components").path("quota").path("status").asString())
                .isEqualTo("UNKNOWN");
        kubernetes.restoreQuotaReads();
        await().atMost(Duration.ofSeconds(10)).until(() -> http.getJson("/api/quota").path("lastError").isNull());
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
