package io.quotagate.reliability;

import java.time.Duration;
import java.util.List;

import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * The stream is missing at start-up: the service starts anyway, says so on {@code /actuator/health} (jetstream
 * details), keeps retrying, and flows once the stream exists. Also: by default only health, info, prometheus and
 * consumer are exposed over HTTP.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
// Close this context after the class: a cached one would keep reconnecting to a nats-server that is gone.
@DirtiesContext
@AutoConfigureMetrics
class StreamMissingAtStartupIT {

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.builder().quota(100_000).withoutStream().build();
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
    }

    @LocalServerPort
    int port;

    @Test
    void aMissingStreamIsReportedRetriedAndConsumedOnceItExists() {
        Http http = new Http(port);
        await().atMost(Duration.ofSeconds(15)).until(() -> http.getJson("/actuator/health").path("components")
                .path("jetstream").path("details").path("error").asString().contains("does not exist"));
        JsonNode jetstream = http.getJson("/actuator/health").path("components").path("jetstream");
        assertThat(jetstream.path("details").path("error").asString())
                .contains("JetStream stream '" + STREAM + "' does not exist").contains("jetstream.create-stream")
                .contains("Retrying");
        assertThat(http.getJson("/actuator/consumer").path("state").asString()).isEqualTo("BLOCKED");

        producer.createStream(STREAM, "events.>");
        Audit audit = new Audit("stream-created-later", producer, kubernetes, STREAM, null);
        List<Long> seqs = audit.publishJson(SUBJECT, 5);
        await().atMost(Duration.ofSeconds(20)).until(() -> audit.objects().keySet().containsAll(seqs));
        assertThat(http.getJson("/actuator/health").path("components").path("jetstream").path("details").has("error"))
                .isFalse();
        audit.assertNothingLostNothingDuplicated("quotagate");
    }

    @Test
    void byDefaultOnlyHealthInfoPrometheusConsumerAndDeadLettersAreExposed() {
        Http http = new Http(port);
        JsonNode links = http.getJson("/actuator").path("_links");
        List<String> names = new java.util.ArrayList<>();
        links.propertyNames().forEach(names::add);
        assertThat(names.stream().map(n -> n.replaceAll("-.*", "")).distinct())
                .containsExactlyInAnyOrder("self", "health", "info", "prometheus", "consumer", "deadletters");
        for (String hidden : List.of("configprops", "env", "beans", "heapdump", "threaddump", "loggers", "metrics",
                "mappings", "shutdown")) {
            assertThat(http.get("/actuator/" + hidden).statusCode()).as(hidden).isEqualTo(404);
        }
    }
}
