package io.quotagate.reliability;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;

import io.nats.client.api.MessageInfo;
import io.quotagate.consumer.DeadLetterPublisher;
import io.quotagate.support.Http;
import io.quotagate.support.QuotaGateEnvironment;
import io.quotagate.support.kubernetes.KubernetesApiEmulation;
import io.quotagate.support.nats.JetStreamTestClient;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.springframework.boot.micrometer.metrics.test.autoconfigure.AutoConfigureMetrics;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.system.CapturedOutput;
import org.springframework.boot.test.system.OutputCaptureExtension;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.annotation.DirtiesContext;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;

import static io.quotagate.support.QuotaGateTestProperties.STREAM;
import static io.quotagate.support.QuotaGateTestProperties.SUBJECT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/**
 * A dead-letter subject nobody stores: the poison message used to be published with a core publish and terminated,
 * i.e. lost. Now nothing is terminated until its dead letter is stored; health and the log say why in plain words,
 * and once a stream captures the subject the message is dead-lettered by itself.
 */
@SpringBootTest(webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT)
@DirtiesContext
@AutoConfigureMetrics
@ExtendWith(OutputCaptureExtension.class)
class DeadLetterNotCapturedIT {

    static final String DLQ_SUBJECT = "dlq.nowhere";

    @RegisterExtension
    static final QuotaGateEnvironment env = QuotaGateEnvironment.withQuota(100_000);
    static final KubernetesApiEmulation kubernetes = env.kubernetes;
    static final JetStreamTestClient producer = env.producer;

    @DynamicPropertySource
    static void properties(DynamicPropertyRegistry registry) {
        env.register(registry, 1.0);
        registry.add("jetstream.dead-letter-subject", () -> DLQ_SUBJECT);
        registry.add("jetstream.retry-backoff-initial", () -> "100ms");
        registry.add("jetstream.retry-backoff-max", () -> "500ms");
    }

    @LocalServerPort
    int port;

    @Test
    void nothingIsTerminatedUntilItsDeadLetterIsStored(CapturedOutput output) {
        Http http = new Http(port);
        Audit audit = new Audit("not-captured", producer, kubernetes, STREAM, "DLQ");
        long poison = audit.publish(SUBJECT, "not json".getBytes(StandardCharsets.UTF_8));
        List<Long> good = audit.publishJson(SUBJECT, 3);

        BadInputIT.awaitCreated(audit, good);
        String words = "jetstream.dead-letter-subject '" + DLQ_SUBJECT + "' is not captured by any stream";
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> {
            JsonNode health = http.getJson("/actuator/health").get("components").get("deadLetters");
            assertThat(health.get("status").asText()).isEqualTo("DOWN");
            assertThat(health.get("details").get("error").asText()).contains(words);
        });
        assertThat(output.getOut()).contains(words);
        // Kept, not lost: the poison message is still in JetStream, retried with back-off.
        await().during(Duration.ofSeconds(2)).atMost(Duration.ofSeconds(5)).untilAsserted(() -> {
            var info = env.consumerInfo();
            assertThat(info.getNumPending() + info.getNumAckPending()).isEqualTo(1);
        });
        assertThat(Metrics.outcome(http, "dead_lettered")).isZero();

        producer.createStream("DLQ", "dlq.>");

        MessageInfo dead = BadInputIT.awaitDeadLetter(audit, poison);
        assertThat(Audit.header(dead, DeadLetterPublisher.REASON)).isEqualTo("invalid_payload");
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(
                http.getJson("/actuator/health").get("components").get("deadLetters").get("status").asText())
                .isEqualTo("UP"));
        env.awaitDrained(Duration.ofSeconds(10));
        audit.assertNothingLostNothingDuplicated("quotagate");
    }
}
